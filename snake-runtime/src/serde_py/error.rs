//! The public error type, and the internal one that collects the path while an error unwinds.

use std::borrow::Cow;
use std::fmt::{self, Display, Write as _};

use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString};

/// A value that could not be converted between Rust and Python, and where it sits.
///
/// Owned strings only, so that it can be sent to the other process and shown there unchanged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
pub struct ConversionError {
    /// Where the offending value sits, from the root: `reply.items[3].score`, `["key"]`, `[5]`, or
    /// `.Variant` for the contents of an enum variant. Empty when the root value itself is at fault.
    pub path: String,
    /// What went wrong there.
    pub kind: ConversionErrorKind,
}

impl Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { write!(f, "{}", self.kind) } else { write!(f, "{}: {}", self.path, self.kind) }
    }
}

/// Why a conversion failed; one variant per failure a caller may want to tell apart.
///
/// Python types are named as Python names them (`type(obj).__name__`); Rust-side expectations that
/// come from serde itself (for example inside `#[serde(untagged)]` enums) keep serde's wording.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ConversionErrorKind {
    /// The Python value has the wrong type: `expected float, got str`.
    #[error("expected {expected}, got {got}")]
    TypeMismatch {
        /// What the Rust side can accept, in Python terms (`int`, `str of length 1`, ...).
        expected: String,
        /// `type(value).__name__` of what was found.
        got: String,
    },
    /// An integer that does not fit the Rust type (or an int too large for a float).
    #[error("integer {value} out of range for {target}")]
    OutOfRange {
        /// The Rust type, such as `u8`.
        target: String,
        /// The integer in decimal, shortened when it is very long.
        value: String,
    },
    /// A struct field that is absent from the dict and has no `#[serde(default)]`.
    #[error("missing field `{field}`")]
    MissingField {
        /// The field name as it appears in the dict (after any `rename`).
        field: String,
    },
    /// An enum variant name that the Rust enum does not have.
    #[error("unknown variant `{variant}`, expected {}", OneOf(.expected))]
    UnknownVariant {
        /// The name that was found.
        variant: String,
        /// The names the enum accepts.
        expected: Vec<String>,
    },
    /// A key that a `#[serde(deny_unknown_fields)]` struct does not have.
    #[error("unknown field `{field}`, expected {}", OneOf(.expected))]
    UnknownField {
        /// The key that was found.
        field: String,
        /// The field names the struct accepts.
        expected: Vec<String>,
    },
    /// A key of a struct dict that the struct does not have (typed messages refuse them unless
    /// the type is `#[snake(allow_unknown_keys)]`).
    #[error("unknown key `{key}` (expected {})", Keys(.expected))]
    UnknownKey {
        /// The key that was found.
        key: String,
        /// The keys the struct accepts (aliases included).
        expected: Vec<String>,
    },
    /// A sequence, tuple, str or dict with the wrong number of elements.
    #[error("invalid length {got}, expected {expected}")]
    InvalidLength {
        /// What was expected, such as `tuple of length 3`.
        expected: String,
        /// The length that was found.
        got: usize,
    },
    /// A dict key (or a Rust map key) that is neither a str nor an int.
    #[error("unsupported key of type {got}: dict keys must be str or int")]
    UnsupportedKey {
        /// The Python type of the key (`tuple`, `float`, `bool`, ...).
        got: String,
    },
    /// A Python exception raised while reading or building a value.
    #[error("Python raised {message}")]
    Python {
        /// The exception type and message, as in `ValueError: boom`.
        message: String,
    },
    /// A message from a `Serialize` or `Deserialize` implementation (`serde::de::Error::custom`).
    #[error("{message}")]
    Custom {
        /// The message as the implementation wrote it.
        message: String,
    },
    /// A value of the right type that the Rust type rejects (`serde::de::Error::invalid_value`).
    #[error("invalid value {got}, expected {expected}")]
    InvalidValue {
        /// What the Rust type accepts, in serde's words.
        expected: String,
        /// The rejected value, in serde's words.
        got: String,
    },
    /// A field given twice, which a dict can only do through `#[serde(alias)]` or `flatten`.
    #[error("duplicate field `{field}`")]
    DuplicateField {
        /// The field name.
        field: String,
    },
    /// Python containers nested deeper than the limit, or containing themselves.
    #[error("value nested more than {limit} levels deep (or containing itself)")]
    TooDeep {
        /// The nesting limit that was hit.
        limit: usize,
    },
}

/// Formats a list of names the way serde does: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
struct OneOf<'a>(&'a [String]);

impl Display for OneOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("nothing (there are none)"),
            [one] => write!(f, "`{one}`"),
            [a, b] => write!(f, "`{a}` or `{b}`"),
            names => {
                f.write_str("one of ")?;
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{name}`")?;
                }
                Ok(())
            }
        }
    }
}

/// Formats the keys a struct accepts: "`a`", "one of `a`, `b`", "no keys".
struct Keys<'a>(&'a [String]);

impl Display for Keys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("no keys"),
            [one] => write!(f, "`{one}`"),
            names => {
                f.write_str("one of ")?;
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{name}`")?;
                }
                Ok(())
            }
        }
    }
}

/// One step on the way from the root to an offending value.
#[derive(Debug)]
pub(crate) enum Segment {
    /// A struct field: `.name`.
    Field(Cow<'static, str>),
    /// A sequence or tuple element: `[3]`.
    Index(usize),
    /// A map value under a str key: `["key"]`.
    Key(String),
    /// A map value under an int key, already in decimal: `[5]`.
    IntKey(String),
    /// The contents of an enum variant: `.Variant`.
    Variant(Cow<'static, str>),
}

impl Segment {
    /// The segment for the value stored under `key` in a Python dict used as a map.
    #[cold]
    pub(crate) fn for_map_key(key: &Bound<'_, PyAny>) -> Self {
        if let Ok(key) = key.cast::<PyString>() {
            Segment::Key(key.to_string_lossy().into_owned())
        } else {
            Segment::IntKey(display_int(key))
        }
    }
}

/// The error that travels through serde while converting. The path is collected innermost first,
/// one segment per container the error passes on its way out, so nothing about paths is computed
/// or allocated unless a conversion fails.
#[derive(Debug)]
pub(crate) struct Error(Box<ErrorImpl>);

#[derive(Debug)]
struct ErrorImpl {
    kind: ConversionErrorKind,
    /// Innermost segment first.
    path: Vec<Segment>,
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    #[cold]
    pub(crate) fn new(kind: ConversionErrorKind) -> Self {
        Error(Box::new(ErrorImpl { kind, path: Vec::new() }))
    }

    /// `expected {expected}, got {type(obj).__name__}`.
    #[cold]
    pub(crate) fn type_mismatch(expected: impl Into<String>, obj: &Bound<'_, PyAny>) -> Self {
        Self::new(ConversionErrorKind::TypeMismatch { expected: expected.into(), got: type_name(obj) })
    }

    /// An int extraction failed: out of range when Python says so, otherwise the exception itself.
    #[cold]
    pub(crate) fn int_extraction(err: PyErr, obj: &Bound<'_, PyAny>, target: &str) -> Self {
        let py = obj.py();
        if err.is_instance_of::<PyOverflowError>(py) || err.is_instance_of::<PyValueError>(py) {
            Self::new(ConversionErrorKind::OutOfRange { target: target.to_owned(), value: display_int(obj) })
        } else {
            err.into()
        }
    }

    /// Records that the error happened inside `segment` (called from the inside out).
    #[cold]
    pub(crate) fn at(mut self, segment: Segment) -> Self {
        self.0.path.push(segment);
        self
    }

    /// The public error, with the path rendered below `root`.
    #[cold]
    pub(crate) fn into_public(self, root: &str) -> ConversionError {
        let ErrorImpl { kind, path } = *self.0;
        ConversionError { path: render_path(root, &path), kind }
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = render_path("", &self.0.path);
        if path.is_empty() { write!(f, "{}", self.0.kind) } else { write!(f, "{path}: {}", self.0.kind) }
    }
}

impl std::error::Error for Error {}

impl From<PyErr> for Error {
    #[cold]
    fn from(err: PyErr) -> Self {
        Self::new(ConversionErrorKind::Python { message: err.to_string() })
    }
}

impl serde::ser::Error for Error {
    #[cold]
    fn custom<T: Display>(msg: T) -> Self {
        Self::new(ConversionErrorKind::Custom { message: msg.to_string() })
    }
}

impl serde::de::Error for Error {
    #[cold]
    fn custom<T: Display>(msg: T) -> Self {
        Self::new(ConversionErrorKind::Custom { message: msg.to_string() })
    }

    #[cold]
    fn invalid_type(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        Self::new(ConversionErrorKind::TypeMismatch {
            expected: exp.to_string(),
            got: python_name_of(&unexp).to_owned(),
        })
    }

    #[cold]
    fn invalid_value(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        Self::new(ConversionErrorKind::InvalidValue { expected: exp.to_string(), got: unexp.to_string() })
    }

    #[cold]
    fn invalid_length(len: usize, exp: &dyn serde::de::Expected) -> Self {
        Self::new(ConversionErrorKind::InvalidLength { expected: exp.to_string(), got: len })
    }

    #[cold]
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::new(ConversionErrorKind::UnknownVariant {
            variant: variant.to_owned(),
            expected: expected.iter().map(|&s| s.to_owned()).collect(),
        })
    }

    #[cold]
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::new(ConversionErrorKind::UnknownField {
            field: field.to_owned(),
            expected: expected.iter().map(|&s| s.to_owned()).collect(),
        })
    }

    #[cold]
    fn missing_field(field: &'static str) -> Self {
        Self::new(ConversionErrorKind::MissingField { field: field.to_owned() })
    }

    #[cold]
    fn duplicate_field(field: &'static str) -> Self {
        Self::new(ConversionErrorKind::DuplicateField { field: field.to_owned() })
    }
}

/// The name Python would give the type of a value serde describes (used when a serde visitor, not
/// this module, rejects a value, e.g. while replaying a buffered untagged enum).
fn python_name_of<'a>(unexp: &serde::de::Unexpected<'a>) -> &'a str {
    use serde::de::Unexpected as U;
    match *unexp {
        U::Bool(_) => "bool",
        U::Unsigned(_) | U::Signed(_) => "int",
        U::Float(_) => "float",
        U::Char(_) | U::Str(_) | U::UnitVariant => "str",
        U::Bytes(_) => "bytes",
        U::Unit | U::Option => "NoneType",
        U::Seq => "list",
        U::Map | U::NewtypeVariant | U::TupleVariant | U::StructVariant => "dict",
        U::NewtypeStruct => "newtype struct",
        U::Enum => "enum",
        U::Other(other) => other,
    }
}

/// `root` followed by the segments (given innermost first), as in `reply.items[3].score`.
fn render_path(root: &str, innermost_first: &[Segment]) -> String {
    let mut out = String::from(root);
    for segment in innermost_first.iter().rev() {
        // Writing to a String cannot fail.
        let _ = match segment {
            Segment::Field(name) | Segment::Variant(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
                Ok(())
            }
            Segment::Index(index) => write!(out, "[{index}]"),
            Segment::Key(key) => write!(out, "[{key:?}]"),
            Segment::IntKey(key) => write!(out, "[{key}]"),
        };
    }
    out
}

/// `type(obj).__name__`, as Python's own error messages name types.
#[cold]
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map_or_else(|_| String::from("<unknown type>"), |name| name.to_string_lossy().into_owned())
}

/// An int in decimal for an error message, shortened when very long: an error message (which may
/// cross a process boundary) need not carry thousands of digits.
#[cold]
fn display_int(obj: &Bound<'_, PyAny>) -> String {
    const MAX_DIGITS: usize = 40;
    // `int.__repr__` rather than `str(obj)`, so an int subclass cannot run its own code here.
    let text = obj
        .cast::<PyInt>()
        .ok()
        .and_then(|int| obj.py().get_type::<PyInt>().call_method1("__repr__", (int,)).ok())
        .and_then(|repr| repr.cast_into::<PyString>().ok())
        .map(|repr| repr.to_string_lossy().into_owned());
    match text {
        // Ints are ASCII, so byte slicing is char slicing.
        Some(text) if text.len() > MAX_DIGITS => {
            let digits = text.trim_start_matches('-').len();
            format!("{}... ({digits} digits)", &text[..MAX_DIGITS / 2])
        }
        Some(text) => text,
        // `int.__repr__` refuses ints beyond `sys.get_int_max_str_digits()`.
        None => String::from("(too large to display)"),
    }
}
