//! `#[snake::callback]`: parse the options, build the model of the function or `impl` block
//! (reporting every rule a single function breaks), check the rules across methods, expand. The
//! item is always emitted as written (minus `#[snake]` helper attributes), next to any errors.

mod check;
mod expand;
mod model;
mod parse;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::support::{self, Errors};

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = parse::callback_options(args, &mut errors);
    let item = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(item) => item,
        Err(err) => {
            errors.push(err);
            let errors = errors.to_compile_errors();
            return quote!(#errors #input);
        }
    };
    let (kept, callbacks) = match &item {
        syn::Item::Fn(function) => {
            let mut kept = function.clone();
            kept.attrs.retain(|attr| !support::is_snake_attr(attr));
            (kept.into_token_stream(), model::free(function, options, &mut errors))
        }
        syn::Item::Impl(block) => {
            let mut kept = block.clone();
            for impl_item in &mut kept.items {
                if let syn::ImplItem::Fn(function) = impl_item {
                    function.attrs.retain(|attr| !support::is_snake_attr(attr));
                }
            }
            (kept.into_token_stream(), model::methods(block, options, &mut errors))
        }
        other => {
            errors.at(
                support::keyword_span(other),
                "`#[snake::callback]` goes on an `async fn name(arg: Arg) -> Reply` or on an `impl` block \
                 of such methods taking `&self`",
            );
            let errors = errors.to_compile_errors();
            return quote!(#errors #input);
        }
    };
    check::check(&callbacks, &mut errors);
    if errors.is_empty() {
        expand::expand(&kept, &callbacks)
    } else {
        let errors = errors.to_compile_errors();
        quote!(#errors #kept)
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn items(output: &proc_macro2::TokenStream) -> Vec<syn::Item> {
        syn::parse2::<syn::File>(output.clone()).expect("the output parses as items").items
    }

    fn compile_errors(items: &[syn::Item]) -> usize {
        items.iter().filter(|item| matches!(item, syn::Item::Macro(mac) if mac.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error"))).count()
    }

    #[test]
    fn the_function_is_kept_and_registered() {
        let output = super::expand(
            quote!(name = "twice"),
            quote!(
                async fn double(n: i64) -> i64 {
                    n * 2
                }
            ),
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items), 0);
        assert!(items.iter().any(|item| matches!(item, syn::Item::Fn(f) if f.sig.ident == "double")));
        assert_eq!(output.to_string().matches("inventory :: submit").count(), 2);
        assert!(output.to_string().contains("\"twice\""));
    }

    #[test]
    fn every_async_self_method_of_a_block_is_registered_and_helpers_are_stripped() {
        let output = super::expand(
            quote!(),
            quote! {
                impl Counter {
                    async fn add(&self, by: u64) -> u64 { by }
                    #[snake(name = "sub_one")]
                    async fn sub(&self, by: u64) -> u64 { by }
                    #[snake(skip)]
                    async fn helper(&self, a: &str) -> usize { a.len() }
                    fn plain(&self) {}
                }
            },
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items), 0);
        assert_eq!(output.to_string().matches("inventory :: submit").count(), 4);
        let syn::Item::Impl(block) = &items[0] else { panic!("the impl block comes first") };
        assert_eq!(block.items.len(), 4);
        assert!(!quote!(#block).to_string().contains("snake ("), "helper attributes are stripped");
    }

    #[test]
    fn errors_keep_the_item_without_helper_attributes() {
        let output = super::expand(
            quote!(name = "a", name = "b"),
            quote! {
                impl Counter {
                    async fn add(&mut self, a: u64, b: u64) -> u64 { a + b }
                    #[snake(name = "x")]
                    fn plain(&self) {}
                }
            },
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items), 4, "{output}");
        assert!(!output.to_string().contains("inventory"));
        let block = items.iter().find_map(|item| match item {
            syn::Item::Impl(block) => Some(block),
            _ => None,
        });
        assert!(!quote!(#block).to_string().contains("snake ("));
    }
}
