//! [`Registry`]: the named types a set of descriptions uses, each once under its Python name.

use std::collections::BTreeMap;

use super::model::{Definition, Kind, Type};

/// Two different things claim one Python name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// Two Rust types have the same Python name; rename one with `#[snake(name = "...")]`.
    #[error(
        "two Rust types are both named `{name}` in Python: `{first}` and `{second}`; \
         rename one with #[snake(name = \"...\")]"
    )]
    NameConflict {
        /// The Python name.
        name: String,
        /// The Rust type registered first.
        first: String,
        /// The Rust type that clashed with it.
        second: String,
    },
}

/// A definition being described, or described.
#[derive(Clone, Debug)]
struct Slot {
    rust_path: String,
    /// `None` while its fields are being described (so a recursive reference finds the name).
    definition: Option<Definition>,
}

/// The named types a set of descriptions uses, by Python name (sorted, so output is stable).
#[derive(Clone, Debug, Default)]
pub struct Registry {
    slots: BTreeMap<String, Slot>,
    errors: Vec<SchemaError>,
    uses_numpy: bool,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that a type described into this registry is a numpy array (`snake::Array`), so
    /// the child must import numpy.
    pub fn note_numpy(&mut self) {
        self.uses_numpy = true;
    }

    /// Whether a type described into this registry is a numpy array.
    pub fn uses_numpy(&self) -> bool {
        self.uses_numpy
    }

    /// Defines the named type `name` (once), returning a reference to it.
    ///
    /// The name is reserved before `build` describes the contents, so a type that contains itself
    /// refers to its own name instead of recursing forever. A second definition of the same name
    /// by another Rust type is recorded as a [`SchemaError::NameConflict`] and the first one kept.
    pub fn define(&mut self, name: String, rust_path: &str, docs: &str, build: impl FnOnce(&mut Self) -> Kind) -> Type {
        if let Some(slot) = self.slots.get(&name) {
            if slot.rust_path != rust_path {
                let error = SchemaError::NameConflict {
                    name: name.clone(),
                    first: slot.rust_path.clone(),
                    second: rust_path.to_owned(),
                };
                if !self.errors.contains(&error) {
                    self.errors.push(error);
                }
            }
            return Type::Named(name);
        }
        self.slots.insert(name.clone(), Slot { rust_path: rust_path.to_owned(), definition: None });
        let kind = build(self);
        let definition =
            Definition { name: name.clone(), rust_path: rust_path.to_owned(), docs: docs.to_owned(), kind };
        if let Some(slot) = self.slots.get_mut(&name) {
            slot.definition = Some(definition);
        }
        Type::Named(name)
    }

    /// Adds a definition described elsewhere (another binary's, read back from disk). A name
    /// already defined keeps its first definition; a different Rust type under it is recorded as
    /// a [`SchemaError::NameConflict`].
    pub(crate) fn insert(&mut self, definition: Definition) {
        if let Some(slot) = self.slots.get(&definition.name) {
            if slot.rust_path != definition.rust_path {
                let error = SchemaError::NameConflict {
                    name: definition.name.clone(),
                    first: slot.rust_path.clone(),
                    second: definition.rust_path.clone(),
                };
                if !self.errors.contains(&error) {
                    self.errors.push(error);
                }
            }
            return;
        }
        let slot = Slot { rust_path: definition.rust_path.clone(), definition: Some(definition.clone()) };
        self.slots.insert(definition.name, slot);
    }

    /// The definition of a Python name, once fully described.
    pub fn get(&self, name: &str) -> Option<&Definition> {
        self.slots.get(name).and_then(|slot| slot.definition.as_ref())
    }

    /// Every definition, sorted by Python name.
    pub fn definitions(&self) -> impl Iterator<Item = &Definition> {
        self.slots.values().filter_map(|slot| slot.definition.as_ref())
    }

    /// The conflicts found so far.
    pub fn errors(&self) -> &[SchemaError] {
        &self.errors
    }
}
