//! Every shape the derive supports, described and rendered.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use snake::PyMessage;
use snake::schema::{Kind, Registry, Type};

#[derive(Serialize, Deserialize, PyMessage)]
struct Named {
    /// Docs on a field.
    a: u8,
    #[serde(rename = "B")]
    b: String,
    #[serde(skip)]
    skipped: u8,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    maybe: Option<bool>,
}

#[derive(Serialize, Deserialize, PyMessage)]
struct Tuple(u8, String, #[serde(skip)] u8);

#[derive(Serialize, Deserialize, PyMessage, PartialEq, Eq, Hash)]
struct Newtype(u64);

#[derive(Serialize, Deserialize, PyMessage)]
struct Unit;

#[derive(Serialize, Deserialize, PyMessage)]
struct Empty {}

#[derive(Serialize, Deserialize, PyMessage)]
#[serde(transparent)]
struct Transparent {
    inner: Vec<Named>,
}

#[derive(Serialize, Deserialize, PyMessage)]
#[serde(tag = "type")]
struct Tagged {
    x: i32,
}

#[derive(Serialize, Deserialize, PyMessage)]
struct Flattened {
    #[serde(flatten)]
    tagged: Tagged,
    #[serde(flatten)]
    unit: Unit,
}

#[derive(Serialize, Deserialize, PyMessage, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Key {
    First,
    SecondOne,
}

#[derive(Serialize, Deserialize, PyMessage)]
enum External {
    Unit,
    Newtype(Named),
    Tuple(u8, u8),
    Struct {
        a: u8,
    },
    #[serde(skip)]
    Skipped,
    #[serde(untagged)]
    Fallback(String),
}

#[derive(Serialize, Deserialize, PyMessage)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
enum Internal {
    UnitVariant,
    NewtypeVariant(Named),
    StructVariant { some_field: u8 },
}

#[derive(Serialize, Deserialize, PyMessage)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    Unit,
    Newtype(u8),
    Tuple(u8, u8),
    Struct { a: u8 },
}

#[derive(Serialize, Deserialize, PyMessage)]
#[serde(untagged)]
enum Untagged {
    Unit,
    Newtype(u8),
    Tuple(u8, String),
    Struct { a: u8 },
}

#[derive(Serialize, Deserialize, PyMessage)]
enum Nothing {}

#[derive(Serialize, Deserialize, PyMessage)]
struct Keys {
    by_key: BTreeMap<Key, u8>,
    by_newtype: HashMap<Newtype, u8>,
    by_char: HashMap<char, u8>,
}

#[derive(Serialize, Deserialize, PyMessage)]
struct Everything {
    named: Named,
    tuple: Tuple,
    newtype: Newtype,
    unit: Unit,
    empty: Empty,
    transparent: Transparent,
    flattened: Flattened,
    external: External,
    internal: Internal,
    adjacent: Adjacent,
    untagged: Untagged,
    keys: Keys,
    never: Option<Nothing>,
    bytes: snake::Bytes,
    boxed: Box<Named>,
    array: [u16; 4],
    tuple_of_twelve: (u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8),
}

fn main() {
    let mut registry = Registry::new();
    assert_eq!(registry.describe::<Everything>(), Type::Named("Everything".into()));
    assert!(registry.errors().is_empty());
    assert!(matches!(registry.get("Flattened").map(|d| &d.kind), Some(Kind::Struct { fields }) if fields.len() == 2));
    let files = snake::stubs::render(&registry, &[], &[]).expect("renders");
    assert!(files["snake_types.py"].contains("Key: TypeAlias = Literal[\"FIRST\", \"SECOND_ONE\"]"));
}
