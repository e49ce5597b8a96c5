//! `#[snake::main]`: parse the options, check the function, expand.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, LitInt, LitStr, Path, Token};

use crate::support::Errors;

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

/// Expands `#[snake::main]`. On errors, emits them all next to the user's function (made
/// non-async so that it still type-checks), so the rest of the crate keeps compiling.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = parse_options(args, &mut errors);
    let mut item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(err) => {
            let err = err.to_compile_error();
            return quote! { #err #item };
        }
    };
    check_fn(&item, &mut errors);
    if !errors.is_empty() {
        let errors = errors.to_compile_errors();
        item.sig.asyncness = None;
        return quote! { #errors #[allow(unused)] fn main() {} };
    }

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
    let attrs = &item.attrs;
    let vis = &item.vis;
    let output = &item.sig.output;
    let body = &item.block;
    quote! {
        #(#attrs)*
        #vis fn main() #output {
            #krate::__private::enter(&[], #child_init);
            #krate::__private::block_on(
                #krate::RuntimeConfig { flavor: #flavor, worker_threads: #worker_threads },
                async move #body,
            )
        }
    }
}
