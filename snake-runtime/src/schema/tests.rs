use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use super::*;
use crate::protocol::HandlerMode;

fn int(signed: bool, bits: u8) -> Type {
    Type::Int { signed, bits }
}

fn list(item: Type) -> Type {
    Type::List(Box::new(item))
}

#[test]
fn std_types_have_the_shapes_serde_py_produces() {
    let mut registry = Registry::new();
    let mut d = |f: fn(&mut Registry) -> Type| f(&mut registry);
    assert_eq!(d(<bool as Describe>::describe), Type::Bool);
    assert_eq!(d(<i8 as Describe>::describe), int(true, 8));
    assert_eq!(d(<u16 as Describe>::describe), int(false, 16));
    assert_eq!(d(<i128 as Describe>::describe), int(true, 128));
    assert_eq!(d(<usize as Describe>::describe), int(false, 64));
    assert_eq!(d(<std::num::NonZeroU32 as Describe>::describe), int(false, 32));
    assert_eq!(d(<f32 as Describe>::describe), Type::Float { bits: 32 });
    assert_eq!(d(<f64 as Describe>::describe), Type::Float { bits: 64 });
    assert_eq!(d(<char as Describe>::describe), Type::Char);
    assert_eq!(d(<String as Describe>::describe), Type::Str);
    assert_eq!(d(<Box<str> as Describe>::describe), Type::Str);
    assert_eq!(d(<() as Describe>::describe), Type::NoneType);
    assert_eq!(d(<std::marker::PhantomData<String> as Describe>::describe), Type::NoneType);
    assert_eq!(d(<Bytes as Describe>::describe), Type::Bytes);
    assert_eq!(d(<Vec<u8> as Describe>::describe), list(int(false, 8)), "a plain Vec<u8> is a list of ints");
    assert_eq!(d(<VecDeque<bool> as Describe>::describe), list(Type::Bool));
    assert_eq!(d(<HashSet<String> as Describe>::describe), list(Type::Str));
    assert_eq!(d(<BTreeSet<i64> as Describe>::describe), list(int(true, 64)));
    assert_eq!(d(<Option<Box<u8>> as Describe>::describe), Type::Optional(Box::new(int(false, 8))));
    assert_eq!(
        d(<HashMap<String, Vec<f64>> as Describe>::describe),
        Type::Dict { key: Box::new(Type::Str), value: Box::new(list(Type::Float { bits: 64 })) }
    );
    assert_eq!(
        d(<BTreeMap<u32, ()> as Describe>::describe),
        Type::Dict { key: Box::new(int(false, 32)), value: Box::new(Type::NoneType) }
    );
    assert_eq!(d(<(u8, String) as Describe>::describe), Type::Tuple(vec![int(false, 8), Type::Str]));
    assert_eq!(
        d(<(u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, bool) as Describe>::describe),
        Type::Tuple([vec![int(false, 8); 11], vec![Type::Bool]].concat())
    );
    assert_eq!(d(<[u8; 4] as Describe>::describe), Type::Array { item: Box::new(int(false, 8)), len: 4 });
    assert!(registry.definitions().next().is_none(), "std types define nothing");
}

#[test]
fn result_is_an_externally_tagged_enum_named_per_instance() {
    let mut registry = Registry::new();
    assert_eq!(registry.describe::<Result<u32, String>>(), Type::Named("Result_u32_str".into()));
    let Some(Definition { kind: Kind::Enum { representation, variants }, .. }) = registry.get("Result_u32_str") else {
        panic!("Result is an enum definition");
    };
    assert_eq!(*representation, Representation::External);
    assert_eq!(variants.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["Ok", "Err"]);
    assert_eq!(variants[0].shape, VariantShape::Newtype(int(false, 32)));
}

#[test]
fn name_fragments_distinguish_instances() {
    let fragments: BTreeSet<String> = [
        int(false, 8),
        int(true, 8),
        Type::Float { bits: 32 },
        list(Type::Str),
        Type::Optional(Box::new(Type::Str)),
        Type::Tuple(vec![Type::Str, Type::Bool]),
        Type::Array { item: Box::new(Type::Bool), len: 2 },
        Type::Dict { key: Box::new(Type::Str), value: Box::new(Type::Bool) },
        Type::Named("User".into()),
    ]
    .iter()
    .map(Type::name_fragment)
    .collect();
    assert_eq!(fragments.len(), 9);
    assert_eq!(Type::generic_name("Page", &["User".into(), "3".into()]), "Page_User_3");
    assert_eq!(list(Type::Named("User".into())).name_fragment(), "list_User");
}

/// A recursive type described by hand, as the derive does.
struct Tree;

impl Describe for Tree {
    fn describe(registry: &mut Registry) -> Type {
        registry.define("Tree".into(), "tests::Tree", "A tree.", |registry| Kind::Struct {
            fields: vec![
                Field::new("label", registry.describe::<String>(), ""),
                Field::new("children", list(registry.describe::<Tree>()), ""),
            ],
        })
    }
}

#[test]
fn recursive_types_refer_to_their_own_name() {
    let mut registry = Registry::new();
    assert_eq!(registry.describe::<Tree>(), Type::Named("Tree".into()));
    let tree = registry.get("Tree").expect("defined");
    assert_eq!(
        tree.kind,
        Kind::Struct {
            fields: vec![
                Field::new("label", Type::Str, ""),
                Field::new("children", list(Type::Named("Tree".into())), "")
            ]
        }
    );
    assert!(registry.errors().is_empty());
}

#[test]
fn two_rust_types_with_one_python_name_are_an_error() {
    let mut registry = Registry::new();
    let first = registry.define("User".into(), "a::User", "", |_| Kind::UnitStruct);
    let second = registry.define("User".into(), "b::User", "", |_| Kind::Struct { fields: vec![] });
    assert_eq!(first, second);
    // Described again (as every use of a type does): reported once.
    registry.define("User".into(), "b::User", "", |_| Kind::UnitStruct);
    assert_eq!(
        registry.errors(),
        [SchemaError::NameConflict { name: "User".into(), first: "a::User".into(), second: "b::User".into() }]
    );
    assert_eq!(registry.get("User").map(|d| &d.kind), Some(&Kind::UnitStruct), "the first definition is kept");
}

fn actor(registry: &mut Registry) -> ActorDecl {
    ActorDecl {
        name: "Calc".into(),
        module: "calc".into(),
        docs: "Docs do not count.".into(),
        methods: vec![MethodDecl {
            python_name: "add".into(),
            docs: String::new(),
            request: registry.describe::<Tree>(),
            reply: registry.describe::<i64>(),
            mode: HandlerMode::Sync,
        }],
    }
}

#[test]
fn fingerprints_follow_shapes_not_names_or_docs() {
    let mut registry = Registry::new();
    let decl = actor(&mut registry);
    let base = decl.fingerprint(&registry);
    assert_eq!(base, 0x08e2_ed75_a306_d83c, "the fingerprint is stable across builds and releases");

    let mut docs = decl.clone();
    docs.docs = "Other docs.".into();
    docs.methods[0].docs = "More.".into();
    assert_eq!(docs.fingerprint(&registry), base);

    // The same shape under another Python name.
    let mut renamed = Registry::new();
    renamed.define("Forest".into(), "x::Forest", "", |_| Kind::Struct {
        fields: vec![
            Field::new("label", Type::Str, ""),
            Field::new("children", list(Type::Named("Forest".into())), ""),
        ],
    });
    let mut decl_renamed = decl.clone();
    decl_renamed.methods[0].request = Type::Named("Forest".into());
    assert_eq!(decl_renamed.fingerprint(&renamed), base);

    // Unrelated definitions in the registry do not count.
    registry.describe::<Result<u8, u8>>();
    assert_eq!(decl.fingerprint(&registry), base);

    let mut changes = Vec::new();
    let mut mode = decl.clone();
    mode.methods[0].mode = HandlerMode::Async;
    changes.push(mode);
    let mut width = decl.clone();
    width.methods[0].reply = int(true, 32);
    changes.push(width);
    let mut name = decl.clone();
    name.methods[0].python_name = "plus".into();
    changes.push(name);
    for changed in changes {
        assert_ne!(changed.fingerprint(&registry), base, "{changed:?}");
    }
    let mut field = Registry::new();
    field.define("Tree".into(), "x::Tree", "", |_| Kind::Struct {
        fields: vec![
            Field::new("label", Type::Str, "").optional(),
            Field::new("children", list(Type::Named("Tree".into())), ""),
        ],
    });
    assert_ne!(decl.fingerprint(&field), base, "a key that may be missing is another shape");
}

#[test]
fn an_actor_fingerprint_is_its_declaration_then_the_callbacks_in_index_order() {
    // No `#[snake::callback]` is declared in this test binary, so only the served names count.
    assert_eq!(inventory::iter::<CallbackEntry>.into_iter().count(), 0);
    let mut registry = Registry::new();
    let declaration = actor(&mut registry).fingerprint(&registry);
    let base = actor_fingerprint(actor, ["double", "save"]);
    let text = format!("actor:{declaration:016x};callback:double;callback:save");
    assert_eq!(base, crate::protocol::fingerprint(&[&text]), "the text the handshake has always hashed");
    assert_ne!(actor_fingerprint(actor, ["save", "double"]), base, "callbacks are called by index");
    assert_ne!(actor_fingerprint(actor, ["double"]), base);

    fn other(registry: &mut Registry) -> ActorDecl {
        ActorDecl { methods: Vec::new(), ..actor(registry) }
    }
    assert_ne!(actor_fingerprint(other, ["double", "save"]), base);
}

#[test]
fn callback_fingerprints_see_streaming() {
    let registry = Registry::new();
    let once =
        CallbackDecl { name: "get".into(), docs: String::new(), arg: Type::Str, reply: Type::Str, streaming: false };
    let stream = CallbackDecl { streaming: true, ..once.clone() };
    assert_ne!(once.fingerprint(&registry), stream.fingerprint(&registry));
    assert_ne!(once.fingerprint(&registry), Type::Str.fingerprint(&registry));
}

#[test]
fn display_is_python_annotation_syntax() {
    let ty = Type::Dict {
        key: Box::new(Type::Str),
        value: Box::new(Type::Optional(Box::new(Type::Tuple(vec![Type::Named("User".into()), Type::Bytes])))),
    };
    assert_eq!(ty.to_string(), "dict[str, tuple[User, bytes] | None]");
}

mod python {
    //! `check_value` on hand-built values and descriptions (the derive-based agreement test with
    //! `serde_py` is in `tests/schema.rs`).

    use pyo3::prelude::*;
    use pyo3::types::PyDict;

    use super::*;

    fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
        Python::initialize();
        Python::attach(f)
    }

    fn eval<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyAny> {
        let code = std::ffi::CString::new(code).expect("no NUL");
        py.eval(&code, None, None).expect("valid Python")
    }

    fn shape_registry() -> Registry {
        let mut registry = Registry::new();
        registry.define("Shape".into(), "tests::Shape", "", |_| Kind::Enum {
            representation: Representation::Internal { tag: "type".into() },
            variants: vec![
                Variant {
                    name: "circle".into(),
                    rust_name: "Circle".into(),
                    docs: String::new(),
                    untagged: false,
                    shape: VariantShape::Struct(vec![Field::new("r", Type::Float { bits: 64 }, "")]),
                },
                Variant {
                    name: "empty".into(),
                    rust_name: "Empty".into(),
                    docs: String::new(),
                    untagged: false,
                    shape: VariantShape::Unit,
                },
                Variant {
                    name: "Raw".into(),
                    rust_name: "Raw".into(),
                    docs: String::new(),
                    untagged: true,
                    shape: VariantShape::Newtype(Type::Str),
                },
            ],
        });
        registry
    }

    #[test]
    fn scalars_and_containers() {
        with_python(|py| {
            let registry = Registry::new();
            let ok = |ty: &Type, code: &str| check_value(ty, &registry, &eval(py, code));
            assert_eq!(ok(&int(false, 8), "255"), Ok(()));
            assert_eq!(ok(&int(false, 8), "256"), Err("value: 256 does not fit in u8".into()));
            assert_eq!(ok(&int(true, 8), "-128"), Ok(()));
            assert!(ok(&int(true, 8), "-129").is_err());
            assert_eq!(ok(&int(false, 128), str::repeat("9", 38).as_str()), Ok(()));
            assert!(ok(&int(false, 64), "-1").is_err());
            assert_eq!(ok(&int(true, 64), "True"), Err("value: expected int, got bool".into()));
            assert_eq!(ok(&Type::Float { bits: 64 }, "1"), Ok(()), "an int is a valid float, as in typing");
            assert_eq!(ok(&Type::Char, "'é'"), Ok(()));
            assert!(ok(&Type::Char, "'ab'").is_err());
            assert_eq!(ok(&Type::Bytes, "b'x'"), Ok(()));
            assert!(ok(&Type::Bytes, "[1]").is_err());
            assert_eq!(ok(&list(Type::Str), "['a', 'b']"), Ok(()));
            assert_eq!(ok(&list(Type::Str), "['a', 2]"), Err("value[1]: expected str, got int".into()));
            assert!(ok(&list(Type::Str), "('a',)").is_err(), "a tuple is not what serde_py makes of a Vec");
            let pair = Type::Tuple(vec![Type::Str, Type::NoneType]);
            assert_eq!(ok(&pair, "('a', None)"), Ok(()));
            assert_eq!(ok(&pair, "('a',)"), Err("value: expected a tuple of 2 items, got 1".into()));
            let array = Type::Array { item: Box::new(Type::Bool), len: 2 };
            assert_eq!(ok(&array, "(True, False)"), Ok(()));
            assert!(ok(&array, "(True, 1)").is_err());
            let dict = Type::Dict { key: Box::new(Type::Str), value: Box::new(int(true, 64)) };
            assert_eq!(ok(&dict, "{'a': 1}"), Ok(()));
            assert_eq!(ok(&dict, "{1: 1}"), Err("value[1]<key>: expected str, got int".into()));
            assert_eq!(ok(&Type::Optional(Box::new(Type::Str)), "None"), Ok(()));
            assert_eq!(ok(&Type::Literal("x".into()), "'y'"), Err("value: expected \"x\", got \"y\"".into()));
            assert!(ok(&Type::Never, "None").is_err());
            let err = ok(&Type::Named("Nope".into()), "None").expect_err("not described");
            assert!(err.contains("not in the registry"), "{err}");
        });
    }

    #[test]
    fn structs_need_exactly_their_keys() {
        with_python(|py| {
            let mut registry = Registry::new();
            registry.describe::<Tree>();
            let tree = Type::Named("Tree".into());
            let ok = |code: &str| check_value(&tree, &registry, &eval(py, code));
            assert_eq!(ok("{'label': 'a', 'children': [{'label': 'b', 'children': []}]}"), Ok(()));
            assert_eq!(
                ok("{'label': 'a', 'children': [{'label': 1, 'children': []}]}"),
                Err("value.children[0].label: expected str, got int".into())
            );
            assert_eq!(ok("{'label': 'a'}"), Err("value: Tree is missing the key \"children\"".into()));
            assert_eq!(ok("{'label': 'a', 'children': [], 'x': 1}"), Err("value: Tree has no key \"x\"".into()));
            assert!(ok("[]").is_err());
        });
    }

    #[test]
    fn cyclic_objects_are_reported_not_overflowed() {
        with_python(|py| {
            let mut registry = Registry::new();
            registry.describe::<Tree>();
            let node = PyDict::new(py);
            let children = pyo3::types::PyList::empty(py);
            node.set_item("label", "loop").expect("set");
            node.set_item("children", &children).expect("set");
            children.append(&node).expect("append");
            let err = check_value(&Type::Named("Tree".into()), &registry, node.as_any()).expect_err("cyclic");
            assert!(err.contains("nested too deeply"), "{err}");
        });
    }

    #[test]
    fn internally_tagged_enums_with_an_untagged_fallback() {
        with_python(|py| {
            let registry = shape_registry();
            let shape = Type::Named("Shape".into());
            let ok = |code: &str| check_value(&shape, &registry, &eval(py, code));
            assert_eq!(ok("{'type': 'circle', 'r': 1.5}"), Ok(()));
            assert_eq!(ok("{'type': 'empty'}"), Ok(()));
            assert_eq!(ok("'raw text'"), Ok(()), "the untagged variant is its bare content");
            let err = ok("{'type': 'empty', 'r': 1.0}").expect_err("unit variant has no keys");
            assert!(err.contains("Shape.Empty has no key \"r\""), "{err}");
            let err = ok("{'type': 'square'}").expect_err("no such variant");
            assert!(err.contains("\"square\" is not a variant of Shape"), "{err}");
            assert!(err.contains("Raw: value: expected str, got dict"), "{err}");
        });
    }
}
