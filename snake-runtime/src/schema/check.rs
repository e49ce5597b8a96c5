//! [`check_value`]: does a Python object have a described shape?

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple};

use super::model::{Field, Kind, Representation, Type, Variant, VariantShape};
use super::registry::Registry;

/// Deeper than this, the object is treated as cyclic rather than walked further.
const MAX_DEPTH: usize = 256;

/// Checks that `obj` has the shape `ty` describes, exactly as `serde_py::to_python` produces it:
/// dicts have exactly the described keys (optional ones may be missing), integers fit their Rust
/// width, `bool` is not accepted as an `int`, and a `float` may also be given as an `int`.
///
/// # Errors
///
/// A message naming the first mismatch and where it is, such as
/// `value.items[2].name: expected str, got int`.
pub fn check_value(ty: &Type, registry: &Registry, obj: &Bound<'_, PyAny>) -> Result<(), String> {
    Checker { registry, path: String::from("value"), depth: 0 }.check(ty, obj)
}

struct Checker<'r> {
    registry: &'r Registry,
    path: String,
    depth: usize,
}

type Outcome = Result<(), String>;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map_or_else(|_| "?".to_owned(), |name| name.to_string())
}

impl Checker<'_> {
    fn fail(&self, message: impl std::fmt::Display) -> Outcome {
        Err(format!("{}: {message}", self.path))
    }

    fn expected(&self, what: impl std::fmt::Display, obj: &Bound<'_, PyAny>) -> Outcome {
        self.fail(format_args!("expected {what}, got {}", type_name(obj)))
    }

    /// Checks that `obj` is a `numpy.ndarray` of this dtype and rank, without importing numpy.
    fn ndarray(&self, dtype: &str, rank: Option<usize>, ty: &Type, obj: &Bound<'_, PyAny>) -> Outcome {
        let class = obj.get_type();
        let is_ndarray =
            class.name().is_ok_and(|name| name == "ndarray") && class.module().is_ok_and(|module| module == "numpy");
        if !is_ndarray {
            return self.expected(ty, obj);
        }
        let got_dtype = obj.getattr("dtype").and_then(|d| d.str()).map(|d| d.to_string()).unwrap_or_default();
        let got_rank: Option<usize> = obj.getattr("ndim").and_then(|n| n.extract()).ok();
        if got_dtype == dtype && (rank.is_none() || got_rank == rank) {
            Ok(())
        } else {
            self.fail(format_args!(
                "expected {ty}, got numpy.ndarray ({got_dtype}, rank {})",
                got_rank.map_or_else(|| "?".to_owned(), |r| r.to_string())
            ))
        }
    }

    /// Checks `obj` with `segment` appended to the path.
    fn at(&mut self, segment: &str, ty: &Type, obj: &Bound<'_, PyAny>) -> Outcome {
        let len = self.path.len();
        self.path.push_str(segment);
        let outcome = self.check(ty, obj);
        self.path.truncate(len);
        outcome
    }

    fn check(&mut self, ty: &Type, obj: &Bound<'_, PyAny>) -> Outcome {
        if self.depth >= MAX_DEPTH {
            return self.fail("nested too deeply (a container that contains itself?)");
        }
        self.depth += 1;
        let outcome = self.check_inner(ty, obj);
        self.depth -= 1;
        outcome
    }

    fn check_inner(&mut self, ty: &Type, obj: &Bound<'_, PyAny>) -> Outcome {
        match ty {
            Type::Bool if obj.is_instance_of::<PyBool>() => Ok(()),
            Type::Int { signed, bits } if is_int(obj) => self.int(*signed, *bits, obj),
            Type::Float { .. } if obj.is_instance_of::<PyFloat>() || is_int(obj) => Ok(()),
            Type::Str if obj.is_instance_of::<PyString>() => Ok(()),
            Type::Char if obj.is_instance_of::<PyString>() => {
                let text = obj.str().map_err(|e| e.to_string())?;
                let chars = text.to_str().map_or(0, |s| s.chars().count());
                if chars == 1 {
                    Ok(())
                } else {
                    self.fail(format_args!("expected a str of one character, got {chars}"))
                }
            }
            Type::Bytes if obj.is_instance_of::<PyBytes>() => Ok(()),
            Type::Buffer
                if obj.is_instance_of::<PyBytes>()
                    || obj.is_instance_of::<PyByteArray>()
                    || obj.is_instance_of::<PyMemoryView>() =>
            {
                Ok(())
            }
            Type::NdArray { dtype, rank } => self.ndarray(dtype, *rank, ty, obj),
            Type::NoneType if obj.is_none() => Ok(()),
            Type::List(item) => {
                let Ok(list) = obj.cast::<PyList>() else { return self.expected(ty, obj) };
                for (i, element) in list.iter().enumerate() {
                    self.at(&format!("[{i}]"), item, &element)?;
                }
                Ok(())
            }
            Type::Tuple(items) => self.tuple(items.iter(), items.len(), ty, obj),
            Type::Array { item, len } => self.tuple(std::iter::repeat_n(item.as_ref(), *len), *len, ty, obj),
            Type::Dict { key, value } => {
                let Ok(dict) = obj.cast::<PyDict>() else { return self.expected(ty, obj) };
                for (k, v) in dict.iter() {
                    let segment = key_segment(&k);
                    self.at(&format!("{segment}<key>"), key, &k)?;
                    self.at(&segment, value, &v)?;
                }
                Ok(())
            }
            Type::Optional(inner) => {
                if obj.is_none() {
                    Ok(())
                } else {
                    self.check(inner, obj)
                }
            }
            Type::Literal(text) => match obj.cast::<PyString>() {
                Ok(s) if s.to_str().is_ok_and(|s| s == text) => Ok(()),
                Ok(s) => self.fail(format_args!("expected {text:?}, got {:?}", s.to_string())),
                Err(_) => self.expected(ty, obj),
            },
            Type::Never => self.fail("no value is allowed here (an enum without variants)"),
            Type::Named(name) => {
                let registry = self.registry;
                let Some(definition) = registry.get(name) else {
                    return self.fail(format_args!("`{name}` is not in the registry"));
                };
                self.named(name, &definition.kind, obj)
            }
            _ => self.expected(ty, obj),
        }
    }

    fn int(&self, signed: bool, bits: u8, obj: &Bound<'_, PyAny>) -> Outcome {
        let fits = if signed {
            obj.extract::<i128>()
                .is_ok_and(|v| bits >= 128 || (-(1i128 << (bits - 1))..(1i128 << (bits - 1))).contains(&v))
        } else {
            obj.extract::<u128>().is_ok_and(|v| bits >= 128 || v < (1u128 << bits))
        };
        if fits {
            Ok(())
        } else {
            let value = obj.str().map_or_else(|_| "?".to_owned(), |s| s.to_string());
            self.fail(format_args!("{value} does not fit in {}{bits}", if signed { 'i' } else { 'u' }))
        }
    }

    fn tuple<'t>(
        &mut self,
        items: impl Iterator<Item = &'t Type>,
        len: usize,
        ty: &Type,
        obj: &Bound<'_, PyAny>,
    ) -> Outcome {
        let Ok(tuple) = obj.cast::<PyTuple>() else { return self.expected(ty, obj) };
        if tuple.len() != len {
            return self.fail(format_args!("expected a tuple of {len} items, got {}", tuple.len()));
        }
        for (i, (item, element)) in items.zip(tuple.iter()).enumerate() {
            self.at(&format!("[{i}]"), item, &element)?;
        }
        Ok(())
    }

    fn named(&mut self, name: &str, kind: &Kind, obj: &Bound<'_, PyAny>) -> Outcome {
        match kind {
            Kind::Struct { fields } => self.fields(name, fields, None, obj),
            Kind::TupleStruct { items } => self.tuple(items.iter(), items.len(), &Type::Named(name.to_owned()), obj),
            Kind::Newtype { inner } => self.check(inner, obj),
            Kind::UnitStruct if obj.is_none() => Ok(()),
            Kind::UnitStruct => self.expected(format_args!("None ({name})"), obj),
            Kind::Enum { representation, variants } => self.enumeration(name, representation, variants, obj),
        }
    }

    /// A dict with exactly these keys (and `tag`, already checked by the caller).
    fn fields(&mut self, owner: &str, fields: &[Field], tag: Option<&str>, obj: &Bound<'_, PyAny>) -> Outcome {
        let Ok(dict) = obj.cast::<PyDict>() else { return self.expected(format_args!("dict ({owner})"), obj) };
        for key in dict.keys() {
            let Ok(key) = key.cast::<PyString>() else {
                return self.fail(format_args!("{owner} has a key that is not a str: {}", type_name(&key)));
            };
            let key = key.to_string();
            if Some(key.as_str()) != tag && !fields.iter().any(|field| field.name == key) {
                return self.fail(format_args!("{owner} has no key {key:?}"));
            }
        }
        for field in fields {
            match dict.get_item(&field.name) {
                Ok(Some(value)) => self.at(&field_segment(&field.name), &field.ty, &value)?,
                Ok(None) if field.required => {
                    return self.fail(format_args!("{owner} is missing the key {:?}", field.name));
                }
                Ok(None) => {}
                Err(err) => return self.fail(err),
            }
        }
        Ok(())
    }

    fn enumeration(
        &mut self,
        name: &str,
        representation: &Representation,
        variants: &[Variant],
        obj: &Bound<'_, PyAny>,
    ) -> Outcome {
        let (untagged, tagged): (Vec<&Variant>, Vec<&Variant>) =
            variants.iter().partition(|v| v.untagged || matches!(representation, Representation::Untagged));
        let tagged_outcome = match representation {
            Representation::External => self.external(name, &tagged, obj),
            Representation::Internal { tag } => self.internal(name, tag, &tagged, obj),
            Representation::Adjacent { tag, content } => self.adjacent(name, tag, content, &tagged, obj),
            Representation::Untagged => self.fail(format_args!("matches no variant of {name}")),
        };
        // Untagged variants are tried after the tagged ones, as serde does when reading.
        if tagged_outcome.is_ok() || untagged.is_empty() {
            return tagged_outcome;
        }
        let mut failures = Vec::new();
        if !tagged.is_empty() {
            failures.extend(tagged_outcome.err());
        }
        for variant in untagged {
            match self.content(name, variant, None, obj) {
                Ok(()) => return Ok(()),
                Err(err) => failures.push(format!("{}: {err}", variant.rust_name)),
            }
        }
        self.fail(format_args!("matches no variant of {name} ({})", failures.join("; ")))
    }

    /// The content of a variant: `tag` is the key to ignore in an internally tagged dict.
    fn content(&mut self, owner: &str, variant: &Variant, tag: Option<&str>, obj: &Bound<'_, PyAny>) -> Outcome {
        let owner = format!("{owner}.{}", variant.rust_name);
        match &variant.shape {
            VariantShape::Unit if tag.is_some() => self.fields(&owner, &[], tag, obj),
            VariantShape::Unit if obj.is_none() => Ok(()),
            VariantShape::Unit => self.expected(format_args!("None ({owner})"), obj),
            VariantShape::Newtype(inner) => self.check(inner, obj),
            VariantShape::Tuple(items) => self.tuple(items.iter(), items.len(), &Type::Tuple(items.clone()), obj),
            VariantShape::Struct(fields) => self.fields(&owner, fields, tag, obj),
        }
    }

    fn external(&mut self, name: &str, variants: &[&Variant], obj: &Bound<'_, PyAny>) -> Outcome {
        if let Ok(text) = obj.cast::<PyString>() {
            let text = text.to_string();
            return match variants.iter().find(|v| v.name == text) {
                Some(v) if matches!(v.shape, VariantShape::Unit) => Ok(()),
                Some(_) => {
                    self.fail(format_args!("variant {text:?} of {name} has content: expected {{{text:?}: ...}}"))
                }
                None => self.fail(format_args!("{text:?} is not a variant of {name}")),
            };
        }
        let Ok(dict) = obj.cast::<PyDict>() else {
            return self.expected(format_args!("str or one-key dict ({name})"), obj);
        };
        if dict.len() != 1 {
            return self.fail(format_args!("expected a dict with one key (the variant of {name}), got {}", dict.len()));
        }
        let Some((key, value)) = dict.iter().next() else { return self.fail("dict changed while checked") };
        let Ok(key) = key.cast::<PyString>() else {
            return self.fail(format_args!("the variant key of {name} is not a str"));
        };
        let key = key.to_string();
        match variants.iter().find(|v| v.name == key) {
            Some(v) if matches!(v.shape, VariantShape::Unit) => {
                self.fail(format_args!("variant {key:?} of {name} is a unit variant: expected the str {key:?}"))
            }
            Some(v) => {
                let len = self.path.len();
                self.path.push_str(&field_segment(&key));
                let outcome = self.content(name, v, None, &value);
                self.path.truncate(len);
                outcome
            }
            None => self.fail(format_args!("{key:?} is not a variant of {name}")),
        }
    }

    /// Reads the tag of an internally or adjacently tagged dict.
    fn tag<'v>(
        &self,
        name: &str,
        tag: &str,
        variants: &[&'v Variant],
        dict: &Bound<'_, PyDict>,
    ) -> Result<&'v Variant, String> {
        let value = match dict.get_item(tag) {
            Ok(Some(value)) => value,
            Ok(None) => return Err(format!("{}: {name} is missing its tag {tag:?}", self.path)),
            Err(err) => return Err(format!("{}: {err}", self.path)),
        };
        let Ok(value) = value.cast::<PyString>() else {
            return Err(format!("{}: the tag {tag:?} of {name} is not a str", self.path));
        };
        let value = value.to_string();
        variants
            .iter()
            .find(|v| v.name == value)
            .copied()
            .ok_or_else(|| format!("{}: {value:?} is not a variant of {name}", self.path))
    }

    fn internal(&mut self, name: &str, tag: &str, variants: &[&Variant], obj: &Bound<'_, PyAny>) -> Outcome {
        let Ok(dict) = obj.cast::<PyDict>() else { return self.expected(format_args!("dict ({name})"), obj) };
        let variant = self.tag(name, tag, variants, dict)?;
        self.content(name, variant, Some(tag), obj)
    }

    fn adjacent(
        &mut self,
        name: &str,
        tag: &str,
        content: &str,
        variants: &[&Variant],
        obj: &Bound<'_, PyAny>,
    ) -> Outcome {
        let Ok(dict) = obj.cast::<PyDict>() else { return self.expected(format_args!("dict ({name})"), obj) };
        let variant = self.tag(name, tag, variants, dict)?;
        let value = dict.get_item(content).map_err(|e| e.to_string())?;
        let extra = dict.keys().iter().find_map(|key| {
            let key = key.cast::<PyString>().ok()?.to_string();
            (key != tag && key != content).then_some(key)
        });
        if let Some(extra) = extra {
            return self.fail(format_args!("{name} has no key {extra:?}"));
        }
        match (&variant.shape, value) {
            (VariantShape::Unit, None) => Ok(()),
            (VariantShape::Unit, Some(_)) => {
                self.fail(format_args!("unit variant {:?} of {name} has no {content:?} key", variant.name))
            }
            (_, None) => self.fail(format_args!("{name} is missing its content {content:?}")),
            (_, Some(value)) => {
                let len = self.path.len();
                self.path.push_str(&field_segment(content));
                let outcome = self.content(name, variant, None, &value);
                self.path.truncate(len);
                outcome
            }
        }
    }
}

fn is_int(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>()
}

/// `.name` for identifier-like keys, `["a-b"]` otherwise.
fn field_segment(key: &str) -> String {
    let simple = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if simple { format!(".{key}") } else { format!("[{key:?}]") }
}

fn key_segment(key: &Bound<'_, PyAny>) -> String {
    match key.repr() {
        Ok(repr) => format!("[{repr}]"),
        Err(_) => "[?]".to_owned(),
    }
}
