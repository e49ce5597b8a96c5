//! `snake_types.py`: a `TypedDict`, `Literal` or alias for every definition in the registry.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::python::{self, Exprs};
use super::{HEADER, StubsError};
use crate::schema::{Definition, Field, Kind, Registry, Representation, Type, Variant, VariantShape};

/// One key of a `TypedDict` being written, its annotation already rendered.
struct Key {
    name: String,
    annotation: String,
    required: bool,
    docs: String,
}

/// The module being written: statements, the names bound so far, the `typing` names used.
struct Module<'r> {
    registry: &'r Registry,
    body: String,
    defined: BTreeSet<String>,
    typing: BTreeSet<&'static str>,
}

pub(super) fn render(registry: &Registry) -> Result<String, StubsError> {
    let mut module = Module { registry, body: String::new(), defined: BTreeSet::new(), typing: BTreeSet::new() };
    for definition in order(registry) {
        module.definition(definition)?;
    }
    let mut out = String::from(HEADER);
    out.push_str("\"\"\"The Python shapes of the Rust message types, as snake converts them.\n\n");
    out.push_str(
        "Handlers import these at runtime: `TypedDict`s are plain dicts, aliases are plain types.\n\"\"\"\n\n",
    );
    if module.typing.contains(python::NUMPY_TYPING) {
        out.push_str("import numpy.typing\n\n");
    }
    let names: Vec<&str> = module.typing.iter().copied().filter(|name| *name != python::NUMPY_TYPING).collect();
    if !names.is_empty() {
        let _ = writeln!(out, "from typing import {}\n", names.join(", "));
    }
    out.push_str("__all__: list[str] = [");
    if module.defined.is_empty() {
        out.push_str("]\n");
    } else {
        out.push('\n');
        for name in &module.defined {
            let _ = writeln!(out, "    {},", python::string(name));
        }
        out.push_str("]\n");
    }
    out.push_str(&module.body);
    Ok(out)
}

/// Definitions in dependency order (each after the ones it refers to, ties by name), so that
/// only recursive references need quoting.
fn order(registry: &Registry) -> Vec<&Definition> {
    fn visit<'r>(
        registry: &'r Registry,
        definition: &'r Definition,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<&'r Definition>,
    ) {
        if !seen.insert(definition.name.clone()) {
            return;
        }
        for dependency in dependencies(definition) {
            if let Some(next) = registry.get(&dependency) {
                visit(registry, next, seen, out);
            }
        }
        out.push(definition);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for definition in registry.definitions() {
        visit(registry, definition, &mut seen, &mut out);
    }
    out
}

/// The names a definition refers to directly.
pub(super) fn dependencies(definition: &Definition) -> BTreeSet<String> {
    fn walk(ty: &Type, out: &mut BTreeSet<String>) {
        match ty {
            Type::List(inner) | Type::Optional(inner) | Type::Array { item: inner, .. } => walk(inner, out),
            Type::Tuple(items) => items.iter().for_each(|item| walk(item, out)),
            Type::Dict { key, value } => {
                walk(key, out);
                walk(value, out);
            }
            Type::Named(name) => {
                out.insert(name.clone());
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    let fields = |fields: &[Field], out: &mut BTreeSet<String>| fields.iter().for_each(|f| walk(&f.ty, out));
    match &definition.kind {
        Kind::Struct { fields: f } => fields(f, &mut out),
        Kind::TupleStruct { items } => items.iter().for_each(|item| walk(item, &mut out)),
        Kind::Newtype { inner } => walk(inner, &mut out),
        Kind::UnitStruct => {}
        Kind::Enum { variants, .. } => {
            for variant in variants {
                match &variant.shape {
                    VariantShape::Unit => {}
                    VariantShape::Newtype(inner) => walk(inner, &mut out),
                    VariantShape::Tuple(items) => items.iter().for_each(|item| walk(item, &mut out)),
                    VariantShape::Struct(f) => fields(f, &mut out),
                }
            }
        }
    }
    out
}

impl Module<'_> {
    /// Renders annotations with the names bound so far.
    fn exprs<R>(&mut self, f: impl FnOnce(&mut Exprs<'_>) -> R) -> R {
        let mut referenced = BTreeSet::new();
        f(&mut Exprs { defined: &self.defined, typing: &mut self.typing, referenced: &mut referenced })
    }

    /// Binds a new top-level name, refusing clashes and names the module needs for itself.
    fn bind(&mut self, name: &str, owner: &Definition) -> Result<(), StubsError> {
        if !python::is_identifier(name) || python::RESERVED.contains(&name) {
            return Err(StubsError::InvalidName {
                name: name.to_owned(),
                what: format!("Python name of `{}`", owner.rust_path),
            });
        }
        if !self.defined.insert(name.to_owned()) {
            return Err(StubsError::NameClash { name: name.to_owned(), file: super::TYPES_FILE.to_owned() });
        }
        Ok(())
    }

    fn keys(&mut self, fields: &[Field]) -> Vec<Key> {
        fields
            .iter()
            .map(|field| Key {
                name: field.name.clone(),
                annotation: self.exprs(|e| e.render(&field.ty)),
                required: field.required,
                docs: field.docs.clone(),
            })
            .collect()
    }

    fn tag_key(&mut self, tag: &str, variant: &Variant) -> Key {
        Key {
            name: tag.to_owned(),
            annotation: self.exprs(|e| e.literal(&[&variant.name])),
            required: true,
            docs: String::new(),
        }
    }

    fn definition(&mut self, definition: &Definition) -> Result<(), StubsError> {
        match &definition.kind {
            Kind::Struct { fields } => {
                let keys = self.keys(fields);
                self.typed_dict(&definition.name, &definition.docs, &keys, definition)
            }
            Kind::TupleStruct { items } => {
                let target = self.exprs(|e| e.render(&Type::Tuple(items.clone())));
                self.alias(definition, &definition.docs, &target)
            }
            Kind::Newtype { inner } => {
                let target = self.exprs(|e| e.render(inner));
                self.alias(definition, &definition.docs, &target)
            }
            Kind::UnitStruct => self.alias(definition, &definition.docs, "None"),
            Kind::Enum { representation, variants } => self.enumeration(definition, representation, variants),
        }
    }

    fn alias(&mut self, definition: &Definition, docs: &str, target: &str) -> Result<(), StubsError> {
        self.bind(&definition.name, definition)?;
        self.typing.insert("TypeAlias");
        let _ = write!(self.body, "\n\n{}: TypeAlias = {target}\n", definition.name);
        python::docstring(&mut self.body, docs, "");
        Ok(())
    }

    fn typed_dict(&mut self, name: &str, docs: &str, keys: &[Key], owner: &Definition) -> Result<(), StubsError> {
        self.typed_dict_as(name, docs, keys, owner, false)
    }

    /// One variant of an enum: a `@final` `TypedDict`, so that `"Circle" in shape` and
    /// `match shape: case {"Circle": r}` narrow the union under mypy and pyright.
    fn variant_dict(&mut self, name: &str, docs: &str, keys: &[Key], owner: &Definition) -> Result<(), StubsError> {
        self.typed_dict_as(name, docs, keys, owner, true)
    }

    fn typed_dict_as(
        &mut self,
        name: &str,
        docs: &str,
        keys: &[Key],
        owner: &Definition,
        is_final: bool,
    ) -> Result<(), StubsError> {
        self.bind(name, owner)?;
        self.typing.insert("TypedDict");
        let all_optional = !keys.is_empty() && keys.iter().all(|key| !key.required);
        let annotation = |key: &Key, typing: &mut BTreeSet<&'static str>| {
            if key.required || all_optional {
                key.annotation.clone()
            } else {
                typing.insert("NotRequired");
                format!("NotRequired[{}]", key.annotation)
            }
        };
        let total = if all_optional { ", total=False" } else { "" };
        self.body.push_str("\n\n");
        if keys.iter().all(|key| python::is_class_key(&key.name)) {
            if is_final {
                self.typing.insert("final");
                self.body.push_str("@final\n");
            }
            let _ = writeln!(self.body, "class {name}(TypedDict{total}):");
            python::docstring(&mut self.body, docs, "    ");
            if !docs.trim().is_empty() && !keys.is_empty() {
                self.body.push('\n');
            }
            for key in keys {
                let annotation = annotation(key, &mut self.typing);
                let _ = writeln!(self.body, "    {}: {annotation}", key.name);
                python::docstring(&mut self.body, &key.docs, "    ");
            }
            if docs.trim().is_empty() && keys.is_empty() {
                self.body.push_str("    pass\n");
            }
        } else {
            // Keys that are not identifiers need the functional syntax, which has no docstrings.
            python::comment(&mut self.body, docs, "");
            let _ = writeln!(self.body, "{name} = TypedDict(\n    {},\n    {{", python::string(name));
            for key in keys {
                python::comment(&mut self.body, &key.docs, "        ");
                let annotation = annotation(key, &mut self.typing);
                let _ = writeln!(self.body, "        {}: {annotation},", python::string(&key.name));
            }
            let total = if all_optional { "    total=False,\n" } else { "" };
            let _ = writeln!(self.body, "    }},\n{total})");
        }
        Ok(())
    }

    /// The keys of a newtype variant's content in an internally tagged enum (normally already
    /// described as a struct variant by the derive; a hand-built registry may hold a reference).
    fn merged_keys(&mut self, owner: &Definition, variant: &Variant, inner: &Type) -> Result<Vec<Key>, StubsError> {
        let registry = self.registry;
        match inner {
            Type::NoneType => Ok(Vec::new()),
            Type::Named(name) => match registry.get(name).map(|d| &d.kind) {
                Some(Kind::Struct { fields }) => Ok(self.keys(fields)),
                Some(Kind::UnitStruct) => Ok(Vec::new()),
                _ => Err(unrepresentable(owner, variant, "its content is not a struct with named fields")),
            },
            _ => Err(unrepresentable(owner, variant, "its content is not a struct with named fields")),
        }
    }

    fn enumeration(
        &mut self,
        definition: &Definition,
        representation: &Representation,
        variants: &[Variant],
    ) -> Result<(), StubsError> {
        let enum_name = &definition.name;
        let mut members: Vec<String> = Vec::new();
        // The position of the merged `Literal[...]` of an external enum's unit variants.
        let mut units: Option<(usize, Vec<&str>)> = None;
        for variant in variants {
            let class = format!("{enum_name}_{}", variant.rust_name);
            let fields_class = format!("{class}_Fields");
            let representation = if variant.untagged { &Representation::Untagged } else { representation };
            let member = match (representation, &variant.shape) {
                (Representation::Untagged, VariantShape::Unit) => "None".to_owned(),
                (Representation::Untagged, VariantShape::Newtype(inner)) => self.exprs(|e| e.render(inner)),
                (Representation::Untagged, VariantShape::Tuple(items)) => {
                    self.exprs(|e| e.render(&Type::Tuple(items.clone())))
                }
                (Representation::Untagged, VariantShape::Struct(fields)) => {
                    let keys = self.keys(fields);
                    self.variant_dict(&class, &variant.docs, &keys, definition)?;
                    class
                }
                (Representation::External, VariantShape::Unit) => {
                    units.get_or_insert_with(|| (members.len(), Vec::new())).1.push(&variant.name);
                    continue;
                }
                (Representation::External, shape) => {
                    let annotation = self.content(definition, variant, shape, &fields_class)?;
                    let key = Key { name: variant.name.clone(), annotation, required: true, docs: String::new() };
                    self.variant_dict(&class, &variant.docs, &[key], definition)?;
                    class
                }
                (Representation::Internal { tag }, shape) => {
                    let mut keys = vec![self.tag_key(tag, variant)];
                    match shape {
                        VariantShape::Unit => {}
                        VariantShape::Struct(fields) => keys.extend(self.keys(fields)),
                        VariantShape::Newtype(inner) => keys.extend(self.merged_keys(definition, variant, inner)?),
                        VariantShape::Tuple(_) => {
                            return Err(unrepresentable(
                                definition,
                                variant,
                                "serde cannot tag a tuple variant internally",
                            ));
                        }
                    }
                    self.variant_dict(&class, &variant.docs, &keys, definition)?;
                    class
                }
                (Representation::Adjacent { tag, content }, shape) => {
                    let mut keys = vec![self.tag_key(tag, variant)];
                    if *shape != VariantShape::Unit {
                        let annotation = self.content(definition, variant, shape, &fields_class)?;
                        keys.push(Key { name: content.clone(), annotation, required: true, docs: String::new() });
                    }
                    self.variant_dict(&class, &variant.docs, &keys, definition)?;
                    class
                }
            };
            members.push(member);
        }
        if let Some((at, names)) = units {
            let literal = self.exprs(|e| e.literal(&names));
            members.insert(at, literal);
        }
        let target = self.exprs(|e| e.union(members));
        // Variants without a class of their own keep their docs in the alias's docstring.
        let mut docs = definition.docs.trim().to_owned();
        let mut listed = false;
        for variant in variants.iter().filter(|v| !v.docs.trim().is_empty()) {
            let untagged = variant.untagged || *representation == Representation::Untagged;
            let classless = match (untagged, representation, &variant.shape) {
                (true, _, VariantShape::Struct(_)) => false,
                (true, ..) | (false, Representation::External, VariantShape::Unit) => true,
                _ => false,
            };
            if classless {
                let line = variant.docs.split_whitespace().collect::<Vec<_>>().join(" ");
                let _ = write!(docs, "{}- `{}`: {line}", if listed { "\n" } else { "\n\n" }, variant.name);
                listed = true;
            }
        }
        self.alias(definition, &docs, &target)
    }

    /// The annotation of a tagged variant's content, writing the `_Fields` class of a struct
    /// variant first.
    fn content(
        &mut self,
        definition: &Definition,
        variant: &Variant,
        shape: &VariantShape,
        fields_class: &str,
    ) -> Result<String, StubsError> {
        Ok(match shape {
            VariantShape::Unit => "None".to_owned(),
            VariantShape::Newtype(inner) => self.exprs(|e| e.render(inner)),
            VariantShape::Tuple(items) => self.exprs(|e| e.render(&Type::Tuple(items.clone()))),
            VariantShape::Struct(fields) => {
                let keys = self.keys(fields);
                self.typed_dict(fields_class, &variant.docs, &keys, definition)?;
                fields_class.to_owned()
            }
        })
    }
}

fn unrepresentable(definition: &Definition, variant: &Variant, reason: &str) -> StubsError {
    StubsError::Unrepresentable {
        name: format!("{}::{}", definition.name, variant.rust_name),
        reason: reason.to_owned(),
    }
}
