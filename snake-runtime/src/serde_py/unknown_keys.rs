//! Which struct dicts may carry keys their Rust struct does not have.
//!
//! serde hands `deserialize_struct` the struct's name and the keys it accepts, nothing that tells
//! two types apart; so a type opts out by name: `#[derive(PyMessage)]` submits an
//! [`AllowUnknownKeys`] with the serde name of the struct (or of the enum, whose struct variants it
//! then covers) for `#[snake(allow_unknown_keys)]`, and for the `#[serde(tag)]` of a struct, a key
//! serde reads past without listing it. The entries are collected once per process.

use std::collections::HashMap;
use std::sync::OnceLock;

/// What a struct dict's unknown keys are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnknownKeys {
    /// Skipped, as serde skips them (the low-level API, and [`from_python`](super::from_python)).
    Ignore,
    /// A [`ConversionErrorKind::UnknownKey`](super::ConversionErrorKind::UnknownKey), unless an
    /// [`AllowUnknownKeys`] names the struct (typed messages).
    Refuse,
}

/// Keys that the dicts of a struct (or of an enum's struct variants) may carry beyond the fields
/// serde lists, by the type's serde name: submitted by `#[derive(PyMessage)]`.
#[derive(Debug)]
pub struct AllowUnknownKeys {
    serde_name: &'static str,
    /// The Rust path of the type without generic arguments (`crate::module::Type`), by which the
    /// stub generator finds its definition.
    rust_path: &'static str,
    /// `None`: any key.
    keys: Option<&'static [&'static str]>,
}

impl AllowUnknownKeys {
    /// Any key, for the type serde names `serde_name` (its `#[serde(rename)]`, else its
    /// identifier): `#[snake(allow_unknown_keys)]`.
    /// `rust_path` is `concat!(module_path!(), "::", "Type")`.
    pub const fn any(serde_name: &'static str, rust_path: &'static str) -> Self {
        Self { serde_name, rust_path, keys: None }
    }

    /// These keys, for the type serde names `serde_name`: a struct's `#[serde(tag)]`.
    pub const fn only(serde_name: &'static str, rust_path: &'static str, keys: &'static [&'static str]) -> Self {
        Self { serde_name, rust_path, keys: Some(keys) }
    }
}

inventory::collect!(AllowUnknownKeys);

/// The keys allowed beyond a struct's fields.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Allowed {
    Any,
    Only(&'static [&'static str]),
}

/// What the dicts of the struct or enum serde names `name` may carry beyond its fields.
pub(crate) fn allowed_for(name: &str) -> Allowed {
    static ENTRIES: OnceLock<HashMap<&'static str, Option<Vec<&'static str>>>> = OnceLock::new();
    let entries = ENTRIES.get_or_init(|| {
        let mut entries: HashMap<&'static str, Option<Vec<&'static str>>> = HashMap::new();
        for entry in inventory::iter::<AllowUnknownKeys> {
            let slot = entries.entry(entry.serde_name).or_insert_with(|| Some(Vec::new()));
            match (slot.as_mut(), entry.keys) {
                (Some(keys), Some(more)) => keys.extend_from_slice(more),
                _ => *slot = None,
            }
        }
        entries
    });
    match entries.get(name) {
        None => Allowed::Only(&[]),
        Some(None) => Allowed::Any,
        Some(Some(keys)) => Allowed::Only(keys.as_slice()),
    }
}

/// Whether the type at `rust_path` (as `std::any::type_name` gives it; generic arguments are
/// ignored) is `#[snake(allow_unknown_keys)]`: its dicts may carry any key.
pub(crate) fn allows_any_key(rust_path: &str) -> bool {
    let base = rust_path.split('<').next().unwrap_or(rust_path);
    inventory::iter::<AllowUnknownKeys>.into_iter().any(|entry| entry.keys.is_none() && entry.rust_path == base)
}
