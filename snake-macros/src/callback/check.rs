//! Rules across the callbacks of one `impl` block: each Python name is registered once.

use std::collections::HashMap;

use super::model::Callbacks;
use crate::support::Errors;

pub(super) fn check(callbacks: &Callbacks<'_>, errors: &mut Errors) {
    let mut seen: HashMap<&str, &syn::Ident> = HashMap::new();
    for callback in &callbacks.callbacks {
        if let Some(first) = seen.insert(&callback.name, callback.ident) {
            errors.at(
                callback.name_span,
                format!(
                    "duplicate callback name `{}`: method `{first}` is registered under it already; \
                     give one another name with `#[snake(name = \"...\")]`",
                    callback.name
                ),
            );
        }
    }
}
