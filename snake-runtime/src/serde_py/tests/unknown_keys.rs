//! Struct dicts with keys the struct does not have: skipped by `from_python`, refused by
//! `from_python_strict_at` (typed messages) unless the type opted out.

use serde::Deserialize;

use super::*;
use crate::serde_py::{AllowUnknownKeys, from_python_strict_at};

#[derive(Debug, PartialEq, Deserialize)]
struct Product {
    name: String,
    price: Option<f64>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Order {
    items: Vec<Product>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Loose {
    id: u32,
}

inventory::submit! { AllowUnknownKeys::any("Loose", concat!(module_path!(), "::Loose")) }

#[derive(Debug, PartialEq, Deserialize)]
enum Shape {
    Circle { radius: f64 },
    Square(f64),
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename = "LooseShapeOnTheWire")]
enum LooseShape {
    Circle { radius: f64 },
}

inventory::submit! { AllowUnknownKeys::any("LooseShapeOnTheWire", concat!(module_path!(), "::LooseShape")) }

#[derive(Debug, PartialEq, Deserialize)]
struct Aliased {
    #[serde(alias = "cost")]
    price: f64,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Flattened {
    id: u32,
    #[serde(flatten)]
    product: Product,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "kind")]
struct Tagged {
    size: u8,
}

inventory::submit! { AllowUnknownKeys::only("Tagged", concat!(module_path!(), "::Tagged"), &["kind"]) }

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Denying {
    a: u8,
}

/// Reads a Python expression strictly, under the root `reply`.
fn strict<T: serde::de::DeserializeOwned>(expression: &str) -> Result<T, ConversionError> {
    with_py(|py| from_python_strict_at(&eval(py, expression), "reply"))
}

fn strict_err<T: serde::de::DeserializeOwned + Debug>(expression: &str) -> ConversionError {
    match strict::<T>(expression) {
        Ok(value) => panic!("reading `{expression}` strictly should fail, got {value:?}"),
        Err(err) => err,
    }
}

#[test]
fn unknown_key_is_refused_with_its_name_and_the_expected_keys() {
    let err = strict_err::<Product>("{'name': 'pen', 'prise': 2.5}");
    assert_eq!(err.to_string(), "reply: unknown key `prise` (expected one of `name`, `price`)");
    assert_eq!(err.path, "reply");
    assert_eq!(
        err.kind,
        ConversionErrorKind::UnknownKey {
            key: "prise".to_owned(),
            expected: vec!["name".to_owned(), "price".to_owned()]
        }
    );
    // Known keys still read, the optional one absent or present.
    assert_eq!(strict::<Product>("{'name': 'pen'}"), Ok(Product { name: "pen".into(), price: None }));
    assert_eq!(strict::<Product>("{'name': 'pen', 'price': 2}"), Ok(Product { name: "pen".into(), price: Some(2.0) }));
}

#[test]
fn unknown_key_in_a_nested_struct_names_its_path() {
    let err = strict_err::<Order>("{'items': [{'name': 'a'}, {'name': 'b', 'colour': 'red'}]}");
    assert_eq!(err.to_string(), "reply.items[1]: unknown key `colour` (expected one of `name`, `price`)");
    let err = strict_err::<Order>("{'items': [], 'total': 3}");
    assert_eq!(err.to_string(), "reply: unknown key `total` (expected `items`)");
}

#[test]
fn lenient_reading_skips_unknown_keys() {
    assert_reads("{'name': 'pen', 'prise': 2.5}", Product { name: "pen".into(), price: None });
}

#[test]
fn types_that_opted_out_accept_unknown_keys() {
    assert_eq!(strict::<Loose>("{'id': 1, 'extra': [1, 2], 'more': None}"), Ok(Loose { id: 1 }));
    assert_eq!(strict::<Vec<Loose>>("[{'id': 2, 'x': 0}]"), Ok(vec![Loose { id: 2 }]));
}

#[test]
fn struct_variants_refuse_unknown_keys_unless_their_enum_opted_out() {
    let err = strict_err::<Shape>("{'Circle': {'radius': 1.0, 'r': 2.0}}");
    assert_eq!(err.to_string(), "reply.Circle: unknown key `r` (expected `radius`)");
    assert_eq!(strict::<Shape>("{'Circle': {'radius': 1.0}}"), Ok(Shape::Circle { radius: 1.0 }));
    assert_eq!(strict::<Shape>("{'Square': 2}"), Ok(Shape::Square(2.0)));
    // The opt-out is found under the enum's serde name (here a rename).
    assert_eq!(strict::<LooseShape>("{'Circle': {'radius': 1.0, 'r': 2.0}}"), Ok(LooseShape::Circle { radius: 1.0 }));
}

#[test]
fn aliases_are_known_keys() {
    assert_eq!(strict::<Aliased>("{'cost': 3.0}"), Ok(Aliased { price: 3.0 }));
    assert_eq!(strict::<Aliased>("{'price': 4.0}"), Ok(Aliased { price: 4.0 }));
    let err = strict_err::<Aliased>("{'prce': 4.0}");
    let ConversionErrorKind::UnknownKey { key, mut expected } = err.kind else { panic!("{err}") };
    assert_eq!(key, "prce");
    expected.sort();
    assert_eq!(expected, ["cost", "price"]);
}

#[test]
fn flattened_structs_keep_working_and_keep_serdes_rule() {
    let expected = Flattened { id: 1, product: Product { name: "pen".into(), price: Some(1.5) } };
    assert_eq!(strict::<Flattened>("{'id': 1, 'name': 'pen', 'price': 1.5}"), Ok(expected));
    // serde buffers a flattened struct's dict itself: its unknown keys are skipped, as documented.
    assert_eq!(
        strict::<Flattened>("{'id': 1, 'name': 'pen', 'other': 0}"),
        Ok(Flattened { id: 1, product: Product { name: "pen".into(), price: None } })
    );
}

#[test]
fn deny_unknown_fields_is_an_unknown_key_when_strict() {
    assert_eq!(read_err::<Denying>("{'a': 1, 'b': 2}").to_string(), "unknown field `b`, expected `a`");
    assert_eq!(strict_err::<Denying>("{'a': 1, 'b': 2}").to_string(), "reply: unknown key `b` (expected `a`)");
}

#[test]
fn keys_allowed_by_name_are_accepted_and_listed() {
    assert_eq!(strict::<Tagged>("{'kind': 'Tagged', 'size': 3}"), Ok(Tagged { size: 3 }));
    let err = strict_err::<Tagged>("{'kind': 'Tagged', 'size': 3, 'colour': 'red'}");
    assert_eq!(err.to_string(), "reply: unknown key `colour` (expected one of `size`, `kind`)");
}
