//! `#[snake::actor]`: parse the options, build the model of the trait (reporting every rule a
//! single item breaks), check the rules across methods, expand. All errors are reported at once;
//! next to them a stand-in handle is emitted so code that uses it does not add errors.

mod check;
mod expand;
mod model;
mod parse;

use crate::support::{self, Errors};
use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = parse::actor_options(args, &mut errors);
    let item = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(syn::Item::Trait(item)) => item,
        Ok(other) => {
            errors.at(
                support::keyword_span(&other),
                "`#[snake::actor]` goes on a trait that declares the Python functions, \
                 such as `trait Model { fn predict(request: Request) -> Reply; }`",
            );
            let errors = errors.to_compile_errors();
            return quote!(#errors #input);
        }
        Err(err) => {
            errors.push(err);
            let errors = errors.to_compile_errors();
            return quote!(#errors #input);
        }
    };
    let krate = options.krate.clone();
    let actor = model::actor(&item, options, &mut errors);
    check::check(&actor, &mut errors);
    if errors.is_empty() {
        expand::expand(&actor)
    } else {
        let fallback = expand::fallback(&item, krate.as_ref());
        let errors = errors.to_compile_errors();
        quote!(#errors #fallback)
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn items(output: &proc_macro2::TokenStream) -> Vec<syn::Item> {
        syn::parse2::<syn::File>(output.clone()).expect("the output parses as items").items
    }

    fn compile_errors(items: &[syn::Item]) -> Vec<String> {
        items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Macro(mac) if mac.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error") => {
                    Some(mac.mac.tokens.to_string())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_declaration_becomes_a_struct_a_marker_and_a_const_block() {
        let output = super::expand(
            quote!(module = "inference"),
            quote! {
                /// Docs.
                pub trait Inference {
                    async fn predict(request: Predict) -> Prediction;
                    fn stream(prompt: String) -> snake::Stream<Token>;
                }
            },
        );
        let items = items(&output);
        assert!(compile_errors(&items).is_empty());
        let structs: Vec<String> = items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Struct(s) => Some(s.ident.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(structs, ["Inference"]);
        assert!(items.iter().any(|item| matches!(item, syn::Item::Enum(e) if e.ident == "__SnakeActor_Inference")));
        assert!(!items.iter().any(|item| matches!(item, syn::Item::Trait(_))), "the trait is replaced");
        let text = output.to_string();
        assert!(text.contains("MODULE : & 'static str = \"inference\""), "{text}");
        assert!(text.contains("HandlerMode :: AsyncGenerator") || text.contains("HandlerMode :: Async"));
        assert!(text.contains("HandlerMode :: Generator"));
    }

    #[test]
    fn every_error_is_reported_next_to_a_stand_in_handle() {
        let output = super::expand(
            quote!(module = "bad module", module = "again"),
            quote! {
                trait Inference {
                    fn predict(&self, request: String) -> String;
                    fn tokenize(text: &str) -> Vec<String>;
                    fn missing(text: String);
                }
            },
        );
        let items = items(&output);
        let errors = compile_errors(&items);
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].contains("duplicate `#[snake::actor]` option `module`"));
        assert!(items.iter().any(|item| matches!(item, syn::Item::Struct(s) if s.ident == "Inference")));
        assert!(!output.to_string().contains("inventory"), "nothing is registered on error");
    }

    #[test]
    fn not_a_trait_keeps_the_item() {
        let output = super::expand(
            quote!(),
            quote!(
                struct Inference;
            ),
        );
        let items = items(&output);
        assert_eq!(compile_errors(&items).len(), 1);
        assert!(items.iter().any(|item| matches!(item, syn::Item::Struct(s) if s.ident == "Inference")));
    }
}
