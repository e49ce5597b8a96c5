//! `#[snake::main]`: parse the options, check the function, expand. Every error is reported at
//! once, next to the user's function (tokio's `entry.rs`).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, LitInt, LitStr, Path, Token};

use crate::support::{self, Errors};

/// The options, each remembered with the span of its name for error messages.
#[derive(Default)]
struct Options {
    flavor: Option<(Flavor, Span)>,
    worker_threads: Option<(LitInt, Span)>,
    child_init: Option<Path>,
    krate: Option<Path>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    MultiThread,
    CurrentThread,
}

enum Option_ {
    Flavor(Ident, LitStr),
    WorkerThreads(Ident, LitInt),
    ChildInit(Ident, Path),
    Crate(Token![crate], Path),
}

impl Parse for Option_ {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(Token![crate]) {
            let key: Token![crate] = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Self::Crate(key, input.parse()?));
        }
        if !lookahead.peek(Ident) {
            return Err(lookahead.error());
        }
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        match key.to_string().as_str() {
            "flavor" => Ok(Self::Flavor(key, input.parse()?)),
            "worker_threads" => Ok(Self::WorkerThreads(key, input.parse()?)),
            "child_init" => Ok(Self::ChildInit(key, input.parse()?)),
            _ => Err(syn::Error::new(
                key.span(),
                "unknown `#[snake::main]` option: expected one of `flavor`, `worker_threads`, `child_init`, `crate`",
            )),
        }
    }
}

fn parse_options(args: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    let parsed = match syn::parse::Parser::parse2(Punctuated::<Option_, Token![,]>::parse_terminated, args) {
        Ok(parsed) => parsed,
        Err(err) => {
            errors.push(err);
            return options;
        }
    };
    let duplicate = |span: Span, name: &str| {
        syn::Error::new(span, format!("duplicate `#[snake::main]` option `{name}`: give it once"))
    };
    for option in parsed {
        match option {
            Option_::Flavor(key, value) => {
                let flavor = match value.value().as_str() {
                    "multi_thread" => Flavor::MultiThread,
                    "current_thread" => Flavor::CurrentThread,
                    _ => {
                        errors.at(value.span(), "unknown flavor: expected \"multi_thread\" or \"current_thread\"");
                        continue;
                    }
                };
                if options.flavor.is_some() {
                    errors.push(duplicate(key.span(), "flavor"));
                }
                options.flavor = Some((flavor, key.span()));
            }
            Option_::WorkerThreads(key, value) => {
                if value.base10_parse::<usize>().map_or(true, |n| n == 0) {
                    errors.at(value.span(), "`worker_threads` must be a positive integer");
                }
                if options.worker_threads.is_some() {
                    errors.push(duplicate(key.span(), "worker_threads"));
                }
                options.worker_threads = Some((value, key.span()));
            }
            Option_::ChildInit(key, path) => {
                if options.child_init.is_some() {
                    errors.push(duplicate(key.span(), "child_init"));
                }
                options.child_init = Some(path);
            }
            Option_::Crate(key, path) => {
                if options.krate.is_some() {
                    errors.push(duplicate(key.span(), "crate"));
                }
                options.krate = Some(path);
            }
        }
    }
    if let (Some((Flavor::CurrentThread, _)), Some((_, span))) = (options.flavor, &options.worker_threads) {
        errors.at(
            *span,
            "`worker_threads` only applies to `flavor = \"multi_thread\"`: \
             remove it or change the flavor",
        );
    }
    options
}

fn check_fn(item: &ItemFn, errors: &mut Errors) {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        errors.at(sig.fn_token.span(), "`#[snake::main]` goes on an `async fn`: add `async` before `fn`");
    }
    if sig.ident != "main" {
        errors.at(sig.ident.span(), "`#[snake::main]` goes on `fn main` only");
    }
    if !sig.inputs.is_empty() {
        errors.at(sig.inputs.span(), "`main` takes no arguments");
    }
    if !sig.generics.params.is_empty() {
        errors.at(sig.generics.span(), "`main` cannot be generic");
    }
}

/// Expands `#[snake::main]`. On errors, emits them all next to a stand-in for the item (see
/// [`fallback`]), so that rust-analyzer and the rest of the crate keep working.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = parse_options(args, &mut errors);
    let function = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Fn(function)) => function,
        Ok(other) => {
            errors.at(
                support::keyword_span(&other),
                "`#[snake::main]` goes on the entry point of a binary, `async fn main() { ... }`",
            );
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
        Err(err) => {
            errors.push(err);
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    check_fn(&function, &mut errors);
    if errors.is_empty() {
        entry_point(&function, options)
    } else {
        let fallback = fallback(&function, options);
        let errors = errors.to_compile_errors();
        quote!(#errors #fallback)
    }
}

/// What stands in for the expansion on errors, so that they are the only errors.
///
/// - A function named `main` still becomes the entry point, with the options that were valid:
///   its body is an async block either way, so a missing `async` adds no error of its own.
/// - A `main` with arguments or generics cannot be the entry point (rustc would add "`main`
///   function has wrong type"): an empty `main` stands in, holding the function as an async
///   inner item so that its body is still checked.
/// - Any other function is kept as written, so that its callers (which may `.await` it) still
///   compile.
fn fallback(function: &ItemFn, options: Options) -> TokenStream {
    let sig = &function.sig;
    if sig.ident != "main" {
        return function.to_token_stream();
    }
    if sig.inputs.is_empty() && sig.generics.params.is_empty() {
        return entry_point(function, options);
    }
    let mut kept = function.clone();
    kept.sig.asyncness = Some(<Token![async]>::default());
    quote! {
        fn main() {
            #[allow(dead_code)]
            #kept
        }
    }
}

/// The generated `main`: serves an actor if this process was started as a child, else runs the
/// body on the runtime the options ask for.
fn entry_point(function: &ItemFn, options: Options) -> TokenStream {
    let krate = options.krate.map_or_else(|| quote!(::snake), |path| quote!(#path));
    let flavor = match options.flavor.map(|(flavor, _)| flavor) {
        Some(Flavor::CurrentThread) => quote!(#krate::RuntimeFlavor::CurrentThread),
        _ => quote!(#krate::RuntimeFlavor::MultiThread),
    };
    let worker_threads = match options.worker_threads {
        Some((n, _)) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let child_init = match options.child_init {
        Some(path) => quote_spanned!(path.span()=> #path),
        None => quote!(<#krate::RuntimeConfig as ::core::default::Default>::default),
    };
    let ItemFn { attrs, vis, sig, block, .. } = function;
    let (ident, output) = (&sig.ident, &sig.output);
    quote! {
        #(#attrs)*
        #vis fn #ident() #output {
            #krate::__private::enter(&[], #child_init);
            #krate::__private::block_on(
                #krate::RuntimeConfig { flavor: #flavor, worker_threads: #worker_threads },
                async move #block,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn items(output: &proc_macro2::TokenStream) -> Vec<syn::Item> {
        syn::parse2::<syn::File>(output.clone()).expect("the output parses as items").items
    }

    fn compile_errors(items: &[syn::Item]) -> usize {
        items
            .iter()
            .filter(|item| {
                matches!(item, syn::Item::Macro(mac)
                    if mac.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error"))
            })
            .count()
    }

    fn function<'a>(items: &'a [syn::Item], name: &str) -> &'a syn::ItemFn {
        items
            .iter()
            .find_map(|item| match item {
                syn::Item::Fn(function) if function.sig.ident == name => Some(function),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a `fn {name}`"))
    }

    #[test]
    fn main_becomes_the_entry_point() {
        let output = super::expand(
            quote!(flavor = "current_thread"),
            quote!(
                async fn main() {
                    work().await;
                }
            ),
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items), 0);
        let main = function(&items, "main");
        assert!(main.sig.asyncness.is_none());
        let body = quote!(#main).to_string();
        assert!(body.contains("RuntimeFlavor :: CurrentThread"), "{body}");
        assert!(body.contains("work () . await"), "{body}");
    }

    #[test]
    fn on_errors_main_is_still_the_entry_point_with_its_body() {
        let output = super::expand(
            quote!(flavor = "single", flavor = "current_thread"),
            quote!(
                fn main() {
                    work().await;
                }
            ),
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items), 2, "{output}");
        let main = function(&items, "main");
        let body = quote!(#main).to_string();
        assert!(body.contains("async move { work () . await ; }"), "{body}");
        assert!(body.contains("RuntimeFlavor :: CurrentThread"), "the valid option still counts: {body}");
    }

    #[test]
    fn on_errors_another_function_is_kept_as_written() {
        let output = super::expand(
            quote!(),
            quote!(
                async fn run() -> u32 {
                    1
                }
            ),
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items), 1);
        assert_eq!(items.len(), 2, "{output}");
        assert!(function(&items, "run").sig.asyncness.is_some());
    }

    #[test]
    fn on_errors_main_with_arguments_is_kept_inside_an_empty_main() {
        let output = super::expand(
            quote!(),
            quote!(
                fn main(args: Vec<String>) {
                    use_it(args).await;
                }
            ),
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items), 2, "{output}");
        let main = function(&items, "main");
        assert!(main.sig.inputs.is_empty());
        let Some(syn::Stmt::Item(syn::Item::Fn(kept))) = main.block.stmts.first() else { panic!("{output}") };
        assert!(kept.sig.asyncness.is_some() && kept.sig.inputs.len() == 1);
    }

    #[test]
    fn not_a_function_keeps_the_item() {
        let output = super::expand(
            quote!(worker_threads = 0),
            quote!(
                struct App;
            ),
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items), 2, "{output}");
        assert!(items.iter().any(|item| matches!(item, syn::Item::Struct(s) if s.ident == "App")));
    }
}
