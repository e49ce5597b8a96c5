//! serde attributes behave as serde defines them: rename, rename_all, skip, default,
//! deny_unknown_fields, flatten, alias.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Camel {
    user_id: u32,
    display_name: String,
    #[serde(rename = "KIND")]
    kind_of_thing: Kind,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    BigThing,
    #[serde(rename = "tiny")]
    SmallThing,
    WithData {
        inner_value: i8,
    },
}

#[test]
fn rename_and_rename_all() {
    let value = Camel { user_id: 7, display_name: "Ada".into(), kind_of_thing: Kind::BigThing };
    assert_to_python(&value, "{'userId': 7, 'displayName': 'Ada', 'KIND': 'big_thing'}");
    assert_reads("{'userId': 7, 'displayName': 'Ada', 'KIND': 'big_thing'}", value);
    assert_to_python(&Kind::SmallThing, "'tiny'");
    assert_to_python(&Kind::WithData { inner_value: 1 }, "{'with_data': {'inner_value': 1}}");
    assert_reads("'tiny'", Kind::SmallThing);
    // The Rust names are not accepted once renamed.
    assert_eq!(
        read_err::<Camel>("{'user_id': 7, 'displayName': 'Ada', 'KIND': 'tiny'}").kind,
        ConversionErrorKind::MissingField { field: "userId".to_owned() }
    );
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Skips {
    kept: u8,
    #[serde(skip)]
    cache: Option<String>,
    #[serde(skip_serializing_if = "is_zero", default)]
    count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[test]
fn skip_and_skip_serializing_if() {
    let value = Skips { kept: 1, cache: Some("cached".into()), count: 0, note: None };
    assert_to_python(&value, "{'kept': 1}");
    assert_reads("{'kept': 1, 'cache': 'ignored'}", Skips { kept: 1, cache: None, count: 0, note: None });
    assert_to_python(
        &Skips { kept: 2, cache: None, count: 3, note: Some("n".into()) },
        "{'kept': 2, 'count': 3, 'note': 'n'}",
    );
}

fn five() -> i32 {
    5
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Defaults {
    required: bool,
    #[serde(default)]
    list: Vec<u8>,
    #[serde(default = "five")]
    five: i32,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct AllDefault {
    a: i32,
    b: String,
}

impl Default for AllDefault {
    fn default() -> Self {
        AllDefault { a: 42, b: "default".into() }
    }
}

#[test]
fn defaults() {
    assert_reads("{'required': True}", Defaults { required: true, list: vec![], five: 5 });
    assert_reads("{'required': False, 'five': 6, 'list': [1]}", Defaults { required: false, list: vec![1], five: 6 });
    assert_eq!(read_err::<Defaults>("{}").kind, ConversionErrorKind::MissingField { field: "required".to_owned() });
    assert_reads("{'b': 'given'}", AllDefault { a: 42, b: "given".into() });
    assert_reads("{}", AllDefault::default());
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    a: u8,
    #[serde(alias = "bee")]
    b: u8,
}

#[test]
fn deny_unknown_fields_and_alias() {
    assert_reads("{'a': 1, 'b': 2}", Strict { a: 1, b: 2 });
    assert_reads("{'a': 1, 'bee': 2}", Strict { a: 1, b: 2 });
    let err = read_err::<Strict>("{'a': 1, 'b': 2, 'c': 3}");
    assert_eq!(
        err.kind,
        ConversionErrorKind::UnknownField {
            field: "c".to_owned(),
            expected: vec!["a".into(), "b".into(), "bee".into()],
        }
    );
    assert_eq!(err.to_string(), "unknown field `c`, expected one of `a`, `b`, `bee`");
    assert_eq!(
        read_err::<Strict>("{'a': 1, 'b': 2, 'bee': 3}").kind,
        ConversionErrorKind::DuplicateField { field: "b".to_owned() }
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Page {
    total: u64,
    #[serde(flatten)]
    cursor: Cursor,
    #[serde(flatten)]
    rest: BTreeMap<String, i64>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    offset: u32,
    limit: Option<u32>,
}

#[test]
fn flatten() {
    let page = Page { total: 10, cursor: Cursor { offset: 5, limit: None }, rest: BTreeMap::from([("x".into(), -1)]) };
    assert_to_python(&page, "{'total': 10, 'offset': 5, 'limit': None, 'x': -1}");
    assert_reads("{'total': 10, 'offset': 5, 'limit': None, 'x': -1}", page);
    assert_reads(
        "{'offset': 1, 'total': 2}",
        Page { total: 2, cursor: Cursor { offset: 1, limit: None }, rest: BTreeMap::new() },
    );
    assert_eq!(read_err::<Page>("{'total': 1}").kind, ConversionErrorKind::MissingField { field: "offset".to_owned() });
}
