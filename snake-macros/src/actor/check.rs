//! Rules across methods: each Rust method and each Python function is declared once.

use std::collections::HashMap;

use super::model::Actor;
use crate::support::Errors;

pub(super) fn check(actor: &Actor<'_>, errors: &mut Errors) {
    let mut rust: HashMap<String, &syn::Ident> = HashMap::new();
    let mut python: HashMap<&str, &syn::Ident> = HashMap::new();
    for method in &actor.methods {
        let name = method.ident.to_string();
        if rust.insert(name.clone(), method.ident).is_some() {
            errors.at(
                method.ident.span(),
                format!("duplicate `#[snake::actor]` method `{name}`: each method is declared once"),
            );
            continue;
        }
        if let Some(first) = python.insert(&method.python_name, method.ident) {
            errors.at(
                method.python_span,
                format!(
                    "duplicate Python function `{}` in `#[snake::actor]`: method `{first}` already calls it; \
                     give one another name with `#[snake(python = \"...\")]`",
                    method.python_name
                ),
            );
        }
    }
}
