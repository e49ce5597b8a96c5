//! A canonical text of a description, fingerprinted for the handshake: the `fingerprint` methods
//! of [`Type`], [`ActorDecl`] and [`CallbackDecl`], and the whole fingerprint of an actor.
//!
//! Named types are numbered in the order they are first reached, so the text (and the fingerprint)
//! depends on shapes, not on Python names or on what else the registry holds. Strings are written
//! with their length first, so no two descriptions render the same.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::declarations::{ActorDecl, CallbackDecl, CallbackEntry};
use super::model::{Field, Kind, Representation, Type, VariantShape};
use super::registry::Registry;
use crate::protocol::HandlerMode;

/// Bumped whenever the canonical text changes, so old and new binaries never agree by accident.
const CANON_VERSION: &str = "snake-schema-1";

impl Type {
    /// A stable fingerprint of this type and every definition it reaches in `registry`.
    ///
    /// Python names and docs do not count (renaming a type keeps the wire shape); field and
    /// variant names, their order, integer widths and representations do.
    pub fn fingerprint(&self, registry: &Registry) -> u64 {
        fingerprint(registry, |canon| canon.ty(self))
    }
}

impl ActorDecl {
    /// A stable fingerprint of the calls (function names, modes, request and reply shapes) and
    /// the definitions they reach in `registry`; docs and Python type names do not count.
    ///
    /// The handshake compares it so that a child built from other message shapes is refused.
    pub fn fingerprint(&self, registry: &Registry) -> u64 {
        fingerprint(registry, |canon| canon.actor(self))
    }
}

impl CallbackDecl {
    /// A stable fingerprint, as [`ActorDecl::fingerprint`].
    pub fn fingerprint(&self, registry: &Registry) -> u64 {
        fingerprint(registry, |canon| canon.callback(self))
    }
}

/// The fingerprint of an actor, compared in the handshake so that a child built from other
/// declarations is refused: the shape of the declaration `describe` builds
/// ([`ActorDecl::fingerprint`]), the names of the callbacks the child serves in index order (a
/// callback is called by index) and the shape of each declared callback, by name. Docs and
/// Python type names do not count.
pub(crate) fn actor_fingerprint<'a>(
    describe: fn(&mut Registry) -> ActorDecl,
    callback_names: impl IntoIterator<Item = &'a str>,
) -> u64 {
    let mut registry = Registry::new();
    let actor = describe(&mut registry);
    let mut text = format!("actor:{:016x}", actor.fingerprint(&registry));
    for name in callback_names {
        text.push_str(";callback:");
        text.push_str(name);
    }
    let mut callbacks: Vec<(String, u64)> = inventory::iter::<CallbackEntry>
        .into_iter()
        .map(|entry| {
            let callback = (entry.describe)(&mut registry);
            let fingerprint = callback.fingerprint(&registry);
            (callback.name, fingerprint)
        })
        .collect();
    callbacks.sort();
    for (name, fingerprint) in &callbacks {
        let _ = write!(text, ";{name}:{fingerprint:016x}");
    }
    crate::protocol::fingerprint(&[&text])
}

fn fingerprint(registry: &Registry, root: impl FnOnce(&mut Canon<'_>)) -> u64 {
    let mut canon = Canon { registry, ids: HashMap::new(), order: Vec::new(), out: String::from(CANON_VERSION) };
    root(&mut canon);
    // Definitions reached while writing a definition are appended to `order` and written in turn.
    let mut next = 0;
    while let Some(name) = canon.order.get(next).cloned() {
        canon.definition(next, &name);
        next += 1;
    }
    crate::protocol::fingerprint(&[&canon.out])
}

struct Canon<'a> {
    registry: &'a Registry,
    ids: HashMap<String, usize>,
    order: Vec<String>,
    out: String,
}

impl Canon<'_> {
    fn text(&mut self, text: &str) {
        let _ = write!(self.out, "{}:{text}", text.len());
    }

    fn actor(&mut self, actor: &ActorDecl) {
        self.out.push_str("actor(");
        for method in &actor.methods {
            self.out.push('(');
            self.text(&method.python_name);
            self.out.push_str(match method.mode {
                HandlerMode::Sync => "sync",
                HandlerMode::Async => "async",
                HandlerMode::Generator => "gen",
                HandlerMode::AsyncGenerator => "agen",
            });
            self.ty(&method.request);
            self.ty(&method.reply);
            self.out.push(')');
        }
        self.out.push(')');
    }

    fn callback(&mut self, callback: &CallbackDecl) {
        self.out.push_str("callback(");
        self.text(&callback.name);
        self.out.push_str(if callback.streaming { "stream" } else { "once" });
        self.ty(&callback.arg);
        self.ty(&callback.reply);
        self.out.push(')');
    }

    fn ty(&mut self, ty: &Type) {
        match ty {
            Type::Bool => self.out.push('b'),
            Type::Int { signed, bits } => {
                let _ = write!(self.out, "{}{bits}", if *signed { 'i' } else { 'u' });
            }
            Type::Float { bits } => {
                let _ = write!(self.out, "f{bits}");
            }
            Type::Str => self.out.push('s'),
            Type::Char => self.out.push('c'),
            Type::Bytes => self.out.push('y'),
            Type::Buffer => self.out.push('v'),
            Type::NdArray { dtype, rank } => {
                self.out.push('N');
                self.text(dtype);
                if let Some(rank) = rank {
                    let _ = write!(self.out, "{rank}");
                }
                self.out.push('.');
            }
            Type::NoneType => self.out.push('n'),
            Type::List(item) => self.wrapped("l(", [item.as_ref()]),
            Type::Tuple(items) => self.wrapped("t(", items),
            Type::Array { item, len } => {
                let _ = write!(self.out, "a{len}");
                self.wrapped("(", [item.as_ref()]);
            }
            Type::Dict { key, value } => self.wrapped("d(", [key.as_ref(), value.as_ref()]),
            Type::Optional(inner) => self.wrapped("o(", [inner.as_ref()]),
            Type::Literal(text) => {
                self.out.push('L');
                self.text(text);
            }
            Type::Never => self.out.push('!'),
            Type::Named(name) => {
                let next = self.ids.len();
                let id = *self.ids.entry(name.clone()).or_insert_with(|| {
                    self.order.push(name.clone());
                    next
                });
                let _ = write!(self.out, "#{id}");
            }
        }
    }

    fn wrapped<'t>(&mut self, open: &str, items: impl IntoIterator<Item = &'t Type>) {
        self.out.push_str(open);
        for item in items {
            self.ty(item);
            self.out.push(',');
        }
        self.out.push(')');
    }

    fn fields(&mut self, fields: &[Field]) {
        self.out.push('{');
        for field in fields {
            self.text(&field.name);
            self.out.push(if field.required { '=' } else { '?' });
            self.ty(&field.ty);
            self.out.push(',');
        }
        self.out.push('}');
    }

    fn definition(&mut self, id: usize, name: &str) {
        let _ = write!(self.out, "\n#{id}=");
        let registry = self.registry;
        let Some(definition) = registry.get(name) else {
            // Not described (a conflict or a bug): still distinct from every real shape.
            self.out.push('?');
            self.text(name);
            return;
        };
        match &definition.kind {
            Kind::Struct { fields } => {
                self.out.push('S');
                self.fields(fields);
            }
            Kind::TupleStruct { items } => self.wrapped("T(", items),
            Kind::Newtype { inner } => self.wrapped("N(", [inner]),
            Kind::UnitStruct => self.out.push('U'),
            Kind::Enum { representation, variants } => {
                self.out.push('E');
                match representation {
                    Representation::External => self.out.push('x'),
                    Representation::Internal { tag } => {
                        self.out.push('i');
                        self.text(tag);
                    }
                    Representation::Adjacent { tag, content } => {
                        self.out.push('a');
                        self.text(tag);
                        self.text(content);
                    }
                    Representation::Untagged => self.out.push('u'),
                }
                self.out.push('[');
                for variant in variants {
                    self.text(&variant.name);
                    if variant.untagged {
                        self.out.push('~');
                    }
                    match &variant.shape {
                        VariantShape::Unit => self.out.push('U'),
                        VariantShape::Newtype(inner) => self.wrapped("N(", [inner]),
                        VariantShape::Tuple(items) => self.wrapped("T(", items),
                        VariantShape::Struct(fields) => {
                            self.out.push('S');
                            self.fields(fields);
                        }
                    }
                    self.out.push(',');
                }
                self.out.push(']');
            }
        }
    }
}
