//! `#[derive(PyMessage)]`: parse the attributes into a model, check the rules that span several
//! attributes, expand. Every error of the item is reported at once; next to them a stub impl is
//! emitted so the rest of the crate still compiles (thiserror's fallback).

mod check;
mod expand;
mod model;
mod parse;
mod wire;

use proc_macro2::TokenStream;
use quote::quote;

use crate::support::Errors;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let original: syn::DeriveInput = match syn::parse2(input) {
        Ok(original) => original,
        Err(err) => return err.to_compile_error(),
    };
    let mut errors = Errors::default();
    let Some(model) = model::input(&original, &mut errors) else {
        let fallback = expand::fallback(&original, None);
        let errors = errors.to_compile_errors();
        return quote!(#errors #fallback);
    };
    check::check(&model, &mut errors);
    if errors.is_empty() {
        expand::expand(&model)
    } else {
        let fallback = expand::fallback(&original, Some(&model.krate));
        let errors = errors.to_compile_errors();
        quote!(#errors #fallback)
    }
}
