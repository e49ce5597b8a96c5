//! Rows of the mapping table for single values: bool, integers, floats, char, str, bytes, Option,
//! unit.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::*;

#[test]
fn bool_both_ways() {
    assert_to_python(&true, "True");
    assert_to_python(&false, "False");
    assert_reads("True", true);
    assert_reads("False", false);
}

#[test]
fn bool_accepts_only_bool() {
    assert_eq!(read_err::<bool>("1").kind, mismatch("bool", "int"));
    assert_eq!(read_err::<bool>("None").kind, mismatch("bool", "NoneType"));
    assert_eq!(read_err::<bool>("'true'").kind, mismatch("bool", "str"));
}

#[test]
fn integers_of_every_width_to_python() {
    assert_to_python(&-128i8, "-128");
    assert_to_python(&i16::MIN, "-32768");
    assert_to_python(&i32::MAX, "2147483647");
    assert_to_python(&i64::MIN, "-9223372036854775808");
    assert_to_python(&u8::MAX, "255");
    assert_to_python(&u16::MAX, "65535");
    assert_to_python(&u32::MAX, "4294967295");
    assert_to_python(&u64::MAX, "18446744073709551615");
    assert_to_python(&i128::MIN, "-170141183460469231731687303715884105728");
    assert_to_python(&i128::MAX, "170141183460469231731687303715884105727");
    assert_to_python(&u128::MAX, "340282366920938463463374607431768211455");
}

#[test]
fn integers_of_every_width_from_python() {
    assert_reads("-128", i8::MIN);
    assert_reads("127", i8::MAX);
    assert_reads("-32768", i16::MIN);
    assert_reads("2147483647", i32::MAX);
    assert_reads("-9223372036854775808", i64::MIN);
    assert_reads("255", u8::MAX);
    assert_reads("65535", u16::MAX);
    assert_reads("4294967295", u32::MAX);
    assert_reads("18446744073709551615", u64::MAX);
    assert_reads("-2**127", i128::MIN);
    assert_reads("2**127 - 1", i128::MAX);
    assert_reads("2**128 - 1", u128::MAX);
    assert_reads("2**70", 1u128 << 70);
    assert_reads("-2**70", -(1i128 << 70));
}

#[test]
fn integers_out_of_range_name_the_value_and_the_type() {
    assert_eq!(read_err::<u8>("300").kind, out_of_range("u8", "300"));
    assert_eq!(read_err::<u8>("-1").kind, out_of_range("u8", "-1"));
    assert_eq!(read_err::<i8>("128").kind, out_of_range("i8", "128"));
    assert_eq!(read_err::<u16>("65536").kind, out_of_range("u16", "65536"));
    assert_eq!(read_err::<i32>("-2**31 - 1").kind, out_of_range("i32", "-2147483649"));
    assert_eq!(read_err::<u32>("-5").kind, out_of_range("u32", "-5"));
    assert_eq!(read_err::<i64>("2**63").kind, out_of_range("i64", "9223372036854775808"));
    assert_eq!(read_err::<u64>("-1").kind, out_of_range("u64", "-1"));
    assert_eq!(read_err::<u64>("2**70").kind, out_of_range("u64", "1180591620717411303424"));
    assert_eq!(read_err::<i128>("2**127").kind, out_of_range("i128", "170141183460469231731687303715884105728"));
    assert_eq!(read_err::<u128>("-1").kind, out_of_range("u128", "-1"));
    assert_eq!(read_err::<u128>("2**128").kind, out_of_range("u128", "340282366920938463463374607431768211456"));
    assert_eq!(read_err::<u8>("300").to_string(), "integer 300 out of range for u8");
}

#[test]
fn huge_integers_are_shortened_in_messages() {
    let err = read_err::<u64>("10**100");
    assert_eq!(err.kind, out_of_range("u64", "10000000000000000000... (101 digits)"));
    // Beyond `sys.get_int_max_str_digits()` Python refuses to print the int at all.
    let err = read_err::<u64>("10**5000");
    assert_eq!(err.kind, out_of_range("u64", "(too large to display)"));
}

#[test]
fn integers_of_unknown_width_take_the_narrowest_fitting_type() {
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(untagged)]
    enum Number {
        Signed(i64),
        Unsigned(u64),
        Float(f64),
    }
    assert_reads("-2**63", Number::Signed(i64::MIN));
    assert_reads("2**64 - 1", Number::Unsigned(u64::MAX));
    assert_reads("0.5", Number::Float(0.5));
    // serde buffers untagged content in 64 bits: wider ints cannot get through.
    assert!(matches!(read_err::<Number>("2**64").kind, ConversionErrorKind::TypeMismatch { .. }));
    assert_eq!(read_err::<Number>("2**200").kind, out_of_range("i128 or u128", "16069380442589902755... (61 digits)"));
}

#[test]
fn integers_reject_bool_float_and_str() {
    assert_eq!(read_err::<i32>("True").kind, mismatch("int", "bool"));
    assert_eq!(read_err::<u8>("False").kind, mismatch("int", "bool"));
    assert_eq!(read_err::<i64>("1.0").kind, mismatch("int", "float"));
    assert_eq!(read_err::<u128>("'1'").kind, mismatch("int", "str"));
    assert_eq!(read_err::<i128>("None").kind, mismatch("int", "NoneType"));
}

#[test]
fn int_subclasses_are_ints() {
    assert_reads("__import__('enum').IntEnum('E', 'A B').B", 2u8);
}

#[test]
fn floats_both_ways() {
    assert_to_python(&1.5f64, "1.5");
    assert_to_python(&-0.0f64, "-0.0");
    assert_to_python(&0.1f32, "0.10000000149011612");
    assert_to_python(&f64::INFINITY, "inf");
    assert_reads("1.5", 1.5f64);
    assert_reads("0.1", 0.1f32);
    assert_reads("float('-inf')", f64::NEG_INFINITY);
    let nan: f64 = read("float('nan')").expect("nan reads");
    assert!(nan.is_nan());
    // Narrowing to f32 rounds, and overflows to infinity as serde_json does.
    assert_reads("1e300", f32::INFINITY);
    assert_reads("-1e300", f32::NEG_INFINITY);
}

#[test]
fn floats_accept_ints_but_not_bools() {
    assert_reads("3", 3.0f64);
    assert_reads("-7", -7.0f32);
    // Rounded as Python's float() rounds: 2**53 + 1 is not representable.
    assert_reads("2**53 + 1", 9007199254740992.0f64);
    assert_reads("2**80", 2f64.powi(80));
    assert_eq!(read_err::<f64>("True").kind, mismatch("float", "bool"));
    assert_eq!(read_err::<f64>("'1.0'").kind, mismatch("float", "str"));
    assert_eq!(read_err::<f32>("None").kind, mismatch("float", "NoneType"));
    assert_eq!(read_err::<f64>("10**400").kind, out_of_range("f64", "10000000000000000000... (401 digits)"));
}

#[test]
fn char_is_a_one_character_str() {
    assert_to_python(&'x', "'x'");
    assert_to_python(&'é', "'é'");
    assert_to_python(&'\u{1F40D}', "'\u{1F40D}'");
    assert_reads("'x'", 'x');
    assert_reads("'\\U0001F40D'", '\u{1F40D}');
    assert_eq!(
        read_err::<char>("'ab'").kind,
        ConversionErrorKind::InvalidLength { expected: "str of length 1".to_owned(), got: 2 }
    );
    assert_eq!(read_err::<char>("''").to_string(), "invalid length 0, expected str of length 1");
    assert_eq!(read_err::<char>("1").kind, mismatch("str of length 1", "int"));
}

#[test]
fn strings_both_ways() {
    assert_to_python("hello", "'hello'");
    assert_to_python(&String::from("nul\0 and ünïcödé"), "'nul\\x00 and ünïcödé'");
    assert_reads("'hello'", String::from("hello"));
    assert_reads("'nul\\x00 ünïcödé \\U0001F40D'", String::from("nul\0 ünïcödé \u{1F40D}"));
    assert_reads("''", String::new());
    assert_eq!(read_err::<String>("b'x'").kind, mismatch("str", "bytes"));
    assert_eq!(read_err::<String>("1").kind, mismatch("str", "int"));
}

#[test]
fn str_with_lone_surrogate_is_a_python_error() {
    let err = read_err::<String>("'\\ud800'");
    match err.kind {
        ConversionErrorKind::Python { message } => {
            assert!(message.starts_with("UnicodeEncodeError"), "{message}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bytes_through_serde_bytes() {
    assert_to_python(&ByteBuf::from(vec![0u8, 1, 255]), "b'\\x00\\x01\\xff'");
    assert_to_python(serde_bytes::Bytes::new(b"abc"), "b'abc'");
    assert_reads("b'\\x00\\x01\\xff'", ByteBuf::from(vec![0u8, 1, 255]));
    assert_reads("bytearray(b'xyz')", ByteBuf::from(b"xyz".to_vec()));
    assert_reads("b''", ByteBuf::new());
    assert_eq!(read_err::<ByteBuf>("'abc'").kind, mismatch("bytes", "str"));
    assert_eq!(read_err::<ByteBuf>("[1, 2]").kind, mismatch("bytes", "list"));
}

#[test]
fn plain_vec_u8_is_a_list_but_reads_bytes_too() {
    assert_to_python(&vec![1u8, 2, 255], "[1, 2, 255]");
    assert_reads("b'\\x01\\x02\\xff'", vec![1u8, 2, 255]);
    assert_reads("bytearray(b'\\x00A')", vec![0u8, 65]);
    assert_reads("[1, 2]", vec![1u8, 2]);
    assert_reads("b'ab'", [b'a', b'b']);
    // A byte that does not fit the element type is reported at its index.
    let err = read_err::<Vec<i8>>("b'\\x01\\xff'");
    assert_eq!(err.path, "[1]");
    assert_eq!(err.kind, out_of_range("i8", "255"));
}

#[test]
fn options() {
    assert_to_python(&None::<i32>, "None");
    assert_to_python(&Some(5), "5");
    assert_reads("None", None::<i32>);
    assert_reads("5", Some(5));
    assert_eq!(read_err::<Option<i32>>("'5'").kind, mismatch("int", "str"));
}

#[test]
fn nested_options_lose_some_none() {
    // Python has a single None: Some(None) cannot be told apart from None on the way back.
    assert_to_python(&Some(None::<u8>), "None");
    assert_to_python(&None::<Option<u8>>, "None");
    assert_to_python(&Some(Some(3u8)), "3");
    assert_reads("None", None::<Option<u8>>);
    assert_reads("3", Some(Some(3u8)));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Unit;

#[test]
fn unit_and_unit_struct_are_none() {
    assert_to_python(&(), "None");
    assert_to_python(&Unit, "None");
    assert_reads("None", ());
    assert_reads("None", Unit);
    assert_eq!(read_err::<()>("0").kind, mismatch("None", "int"));
    assert_eq!(read_err::<Unit>("{}").kind, mismatch("None", "dict"));
}

#[test]
fn ignored_values_never_fail() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct OnlyA {
        a: i32,
    }
    // `object()`, a lambda and a self-containing list have no serde equivalent, and need none.
    assert_reads("(lambda l: {'a': 1, 'b': object(), 'c': lambda: 0, 'd': l, 'e': l.append(l)})([])", OnlyA { a: 1 });
    assert_reads("object()", serde::de::IgnoredAny);
}
