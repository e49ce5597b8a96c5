//! Python syntax: names, string literals, docstrings and type expressions.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::schema::Type;

/// Python 3.11 keywords (soft keywords such as `match` and `type` are valid names).
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// Names the generated modules use themselves; a generated definition must not shadow them.
pub(super) const RESERVED: &[&str] = &[
    "Any",
    "AsyncIterator",
    "Iterator",
    "Literal",
    "Never",
    "NotRequired",
    "Optional",
    "Protocol",
    "TypeAlias",
    "TypedDict",
    "Union",
    "final",
    "bool",
    "bytearray",
    "bytes",
    "dict",
    "float",
    "int",
    "list",
    "memoryview",
    "object",
    "str",
    "tuple",
    "type",
];

/// Arrays up to this length are spelled out (`tuple[int, int]`); longer ones are `tuple[int, ...]`.
const MAX_SPELLED_ARRAY: usize = 16;

/// Whether `name` can be written as a plain Python name: an ASCII identifier that is not a keyword.
pub(super) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

/// Whether `name` can be a key in class-syntax `TypedDict`: an identifier that Python does not
/// name-mangle (`__key` in a class body becomes `_Class__key`).
pub(super) fn is_class_key(name: &str) -> bool {
    let mangled = name.starts_with("__") && !name.ends_with("__");
    is_identifier(name) && !mangled
}

/// A double-quoted Python string literal.
pub(super) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A docstring at `indent`, or nothing when `docs` is empty.
pub(super) fn docstring(out: &mut String, docs: &str, indent: &str) {
    let docs = docs.trim();
    if docs.is_empty() {
        return;
    }
    let mut escaped = String::with_capacity(docs.len());
    for c in docs.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\r' => {}
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(escaped, "\\U{:08x}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    // `"""` inside, or a `"` right before the closing quotes, would end the string early.
    let mut escaped = escaped.replace("\"\"\"", "\\\"\\\"\\\"");
    if escaped.ends_with('"') {
        escaped.pop();
        escaped.push_str("\\\"");
    }
    let mut lines = escaped.lines();
    let first = lines.next().unwrap_or_default();
    let rest: Vec<&str> = lines.collect();
    if rest.is_empty() {
        let _ = writeln!(out, "{indent}\"\"\"{first}\"\"\"");
        return;
    }
    let _ = writeln!(out, "{indent}\"\"\"{first}");
    for line in rest {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    let _ = writeln!(out, "{indent}\"\"\"");
}

/// `docs` as `#` comment lines at `indent`.
pub(super) fn comment(out: &mut String, docs: &str, indent: &str) {
    for line in docs.trim().lines() {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}#");
        } else {
            let _ = writeln!(out, "{indent}# {line}");
        }
    }
}

/// The entry of [`Exprs::typing`] that stands for `import numpy.typing` rather than a `typing` name.
pub(super) const NUMPY_TYPING: &str = "numpy.typing";

/// Renders type expressions, recording which `typing` names they use and quoting references to
/// names not defined yet (recursive types), so the module imports at runtime without
/// `from __future__ import annotations` (which functional `TypedDict`s and aliases ignore).
///
/// Unions are written `Union[...]`/`Optional[...]` rather than with `|`: `"Tree" | None` would
/// raise at import time, while `Optional["Tree"]` is a valid forward reference.
pub(super) struct Exprs<'a> {
    /// Names already bound in the module being written.
    pub defined: &'a BTreeSet<String>,
    /// `typing` names the module must import, and [`NUMPY_TYPING`] when it must import that.
    pub typing: &'a mut BTreeSet<&'static str>,
    /// Definition names referenced (for imports from `snake_types`).
    pub referenced: &'a mut BTreeSet<String>,
}

impl Exprs<'_> {
    /// The annotation of `ty`.
    pub fn render(&mut self, ty: &Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::Int { .. } => "int".into(),
            Type::Float { .. } => "float".into(),
            Type::Str | Type::Char => "str".into(),
            Type::Bytes => "bytes".into(),
            Type::Buffer => "memoryview | bytes | bytearray".into(),
            Type::NdArray { dtype, .. } => {
                self.typing.insert(NUMPY_TYPING);
                format!("numpy.typing.NDArray[numpy.{}]", crate::schema::numpy_scalar(dtype))
            }
            Type::NoneType => "None".into(),
            Type::List(item) => format!("list[{}]", self.render(item)),
            Type::Tuple(items) if items.is_empty() => "tuple[()]".into(),
            Type::Tuple(items) => {
                let items: Vec<String> = items.iter().map(|item| self.render(item)).collect();
                format!("tuple[{}]", items.join(", "))
            }
            Type::Array { len: 0, .. } => "tuple[()]".into(),
            Type::Array { item, len } if *len <= MAX_SPELLED_ARRAY => {
                let item = self.render(item);
                format!("tuple[{}]", vec![item; *len].join(", "))
            }
            Type::Array { item, .. } => format!("tuple[{}, ...]", self.render(item)),
            Type::Dict { key, value } => format!("dict[{}, {}]", self.render(key), self.render(value)),
            Type::Optional(inner) => {
                // `Option<Option<T>>` and `Option<()>` have a single `None` in Python.
                let mut inner = inner.as_ref();
                while let Type::Optional(next) = inner {
                    inner = next;
                }
                if *inner == Type::NoneType {
                    return "None".into();
                }
                self.typing.insert("Optional");
                format!("Optional[{}]", self.render(inner))
            }
            Type::Literal(text) => self.literal(&[text.as_str()]),
            Type::Never => {
                self.typing.insert("Never");
                "Never".into()
            }
            Type::Named(name) => self.name(name),
        }
    }

    /// `Literal["a", "b"]`.
    pub fn literal(&mut self, texts: &[&str]) -> String {
        self.typing.insert("Literal");
        let texts: Vec<String> = texts.iter().map(|text| string(text)).collect();
        format!("Literal[{}]", texts.join(", "))
    }

    /// A reference to a generated name, quoted when it is defined further down.
    pub fn name(&mut self, name: &str) -> String {
        self.referenced.insert(name.to_owned());
        if self.defined.contains(name) { name.to_owned() } else { string(name) }
    }

    /// `Union[...]` of members, or the single member, or `Never` when there are none.
    pub fn union(&mut self, members: Vec<String>) -> String {
        match members.len() {
            0 => {
                self.typing.insert("Never");
                "Never".into()
            }
            1 => members.into_iter().next().unwrap_or_default(),
            _ => {
                self.typing.insert("Union");
                format!("Union[{}]", members.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_exclude_keywords_and_non_ascii() {
        assert!(is_identifier("user_id"));
        assert!(is_identifier("match"));
        assert!(!is_identifier("from"));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier("1a"));
        assert!(!is_identifier("é"));
        assert!(!is_identifier(""));
        assert!(is_class_key("__dunder__"));
        assert!(!is_class_key("__private"));
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string("x\ny\u{7}"), "\"x\\ny\\U00000007\"");
        assert_eq!(string("é"), "\"é\"");
    }

    #[test]
    fn docstrings_never_end_early() {
        let mut out = String::new();
        docstring(&mut out, "Says \"\"\"hi\"\"\" and ends with \"", "");
        assert_eq!(out, "\"\"\"Says \\\"\\\"\\\"hi\\\"\\\"\\\" and ends with \\\"\"\"\"\n");
        let mut out = String::new();
        docstring(&mut out, "Summary.\n\nDetails \\d.", "    ");
        assert_eq!(out, "    \"\"\"Summary.\n\n    Details \\\\d.\n    \"\"\"\n");
    }

    #[test]
    fn forward_references_are_quoted_inside_typing_forms() {
        let defined: BTreeSet<String> = ["User".to_owned()].into();
        let mut typing = BTreeSet::new();
        let mut referenced = BTreeSet::new();
        let mut exprs = Exprs { defined: &defined, typing: &mut typing, referenced: &mut referenced };
        let ty = Type::Optional(Box::new(Type::Tuple(vec![
            Type::Named("User".into()),
            Type::List(Box::new(Type::Named("Tree".into()))),
        ])));
        assert_eq!(exprs.render(&ty), "Optional[tuple[User, list[\"Tree\"]]]");
        let nested = Type::Optional(Box::new(Type::Optional(Box::new(Type::Str))));
        assert_eq!(exprs.render(&nested), "Optional[str]");
        let array = Type::Array { item: Box::new(Type::Bool), len: 2 };
        assert_eq!(exprs.render(&array), "tuple[bool, bool]");
        let long = Type::Array { item: Box::new(Type::Bool), len: 32 };
        assert_eq!(exprs.render(&long), "tuple[bool, ...]");
        assert_eq!(typing.into_iter().collect::<Vec<_>>(), vec!["Optional"]);
        assert_eq!(referenced.into_iter().collect::<Vec<_>>(), vec!["Tree", "User"]);
    }
}
