//! `#[derive(PyMessage)]` on every supported shape, checked three ways:
//!
//! - the description is what we expect (`describes_*` tests);
//! - it agrees with `serde_py`: values converted with `to_python` pass `check_value`, and
//!   mutated objects fail it (`serde_py_output_agrees_with_the_description`);
//! - the generated stubs equal the committed fixture in `python/tests/fixtures/stubs/`, which
//!   pytest type-checks handlers against with mypy (`committed_stubs_are_up_to_date`).
//!   Regenerate the fixture with `SNAKE_BLESS=1 cargo test -p snake-runtime --test schema`.
//!
//! One file of some 750 lines on purpose: every case shares the shapes declared here and the
//! three checks above, and one test target is one binary to build (on 2-core CI machines, each
//! test target is a separate link).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::{Deserialize, Serialize};
use snake::schema::{
    ActorDecl, CallbackDecl, Declarations, Definition, Field, Kind, MethodDecl, Registry, Representation, Type,
    Variant, VariantShape, check_value,
};
use snake::{Bytes, HandlerMode, PyMessage};

/// A role; also a dict key (an enum of unit variants is a str).
#[derive(Serialize, Deserialize, PyMessage, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Role {
    Admin,
    Member,
    #[serde(rename = "guest-user")]
    Guest,
}

/// A user id; a dict key (a newtype around an int is an int).
#[derive(Serialize, Deserialize, PyMessage, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct UserId(u64);

/// A registered user.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct User {
    /// The user's id.
    user_id: UserId,
    display_name: String,
    /// Only sent when set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    nickname: Option<String>,
    #[serde(skip)]
    cache: u8,
    tags: BTreeSet<String>,
    avatar: Bytes,
    #[serde(rename = "type")]
    role: Role,
}

/// A point.
#[derive(Serialize, Deserialize, PyMessage, Clone, Copy, Debug, PartialEq)]
struct Point(f64, f64);

/// Marks something.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Marker;

/// A page of results.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Page<T> {
    items: Vec<T>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    next: Option<String>,
    total: u32,
}

/// A score, serialized as its bare value.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[serde(transparent)]
struct Score {
    value: f32,
}

/// A tree of labels.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Tree {
    label: String,
    children: Vec<Tree>,
}

/// When a document changed.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Stamps {
    created: i64,
    #[serde(rename = "updated-at")]
    updated_at: Option<i64>,
}

/// An optional annotation.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Note {
    note: String,
}

/// A document: its stamps and note are merged into its own keys.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Document {
    title: String,
    #[serde(flatten)]
    stamps: Stamps,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    annotation: Option<Note>,
}

/// A shape.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
enum Shape {
    /// Nothing at all.
    Empty,
    Circle(f64),
    Rect {
        w: f64,
        h: f64,
    },
    Polygon(Vec<Point>, bool),
    #[serde(skip)]
    Hidden,
}

/// Who moved.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Moved {
    who: UserId,
    to: Point,
}

/// Something that happened.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    UserJoined { user: User },
    Ping,
    Moved(Moved),
    Marked(Marker),
}

/// What to do.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[serde(tag = "t", content = "c")]
enum Command {
    Stop,
    Go(Point),
    Say { text: String },
    Pair(u8, u8),
}

/// Any of several shapes.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[serde(untagged)]
enum Loose {
    Nothing,
    Number(i64),
    Pair(i64, String),
    Named { name: String },
}

/// A tagged enum with a catch-all.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
enum Mixed {
    Known(u8),
    #[serde(untagged)]
    Other(String),
}

/// Variant fields renamed together.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[serde(rename_all_fields = "camelCase")]
enum Op {
    Set { new_value: i32 },
}

/// A grid whose width is part of its type.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Grid<const N: usize> {
    cells: Vec<u8>,
}

/// Named explicitly for Python.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[snake(name = "Renamed")]
struct InternalName {
    r#type: u8,
}

/// An address, serialized as a string.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[serde(into = "String", from = "String")]
struct Email {
    user: String,
    host: String,
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        format!("{}@{}", email.user, email.host)
    }
}

impl From<String> for Email {
    fn from(text: String) -> Self {
        let (user, host) = text.split_once('@').unwrap_or((&text, ""));
        Self { user: user.to_owned(), host: host.to_owned() }
    }
}

fn as_text<S: serde::Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.to_string())
}

fn from_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
}

/// Everything together.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Rich {
    user: User,
    page: Page<User>,
    nested: Page<Page<u8>>,
    by_id: HashMap<UserId, User>,
    by_role: BTreeMap<Role, u32>,
    shapes: Vec<Shape>,
    events: Vec<Event>,
    commands: Vec<Command>,
    loose: Vec<Loose>,
    mixed: Vec<Mixed>,
    ops: Vec<Op>,
    point: Point,
    marker: Marker,
    score: Score,
    tree: Tree,
    document: Document,
    grid: Grid<2>,
    renamed: InternalName,
    email: Email,
    #[serde(serialize_with = "as_text", deserialize_with = "from_text")]
    #[snake(as = String)]
    counter: u32,
    array: [u8; 3],
    tuple: (char, bool, Option<u8>),
    unit: (),
    result: Result<u8, String>,
    maybe: Option<Option<i8>>,
}

fn user(id: u64, nickname: Option<&str>) -> User {
    User {
        user_id: UserId(id),
        display_name: format!("user {id}"),
        nickname: nickname.map(str::to_owned),
        cache: 0,
        tags: ["a".to_owned(), "b".to_owned()].into(),
        avatar: Bytes::from(vec![0, 255]),
        role: Role::Guest,
    }
}

fn rich() -> Rich {
    Rich {
        user: user(1, Some("one")),
        page: Page { items: vec![user(2, None)], next: Some("3".into()), total: 9 },
        nested: Page { items: vec![Page { items: vec![1, 2], next: None, total: 2 }], next: None, total: 1 },
        by_id: [(UserId(4), user(4, None))].into(),
        by_role: [(Role::Admin, 1), (Role::Member, 2)].into(),
        shapes: vec![
            Shape::Empty,
            Shape::Circle(1.5),
            Shape::Rect { w: 1.0, h: 2.0 },
            Shape::Polygon(vec![Point(0.0, 1.0)], true),
        ],
        events: vec![
            Event::UserJoined { user: user(5, None) },
            Event::Ping,
            Event::Moved(Moved { who: UserId(5), to: Point(1.0, 2.0) }),
            Event::Marked(Marker),
        ],
        commands: vec![
            Command::Stop,
            Command::Go(Point(3.0, 4.0)),
            Command::Say { text: "hi".into() },
            Command::Pair(1, 2),
        ],
        loose: vec![Loose::Nothing, Loose::Number(-3), Loose::Pair(1, "x".into()), Loose::Named { name: "n".into() }],
        mixed: vec![Mixed::Known(7), Mixed::Other("free".into())],
        ops: vec![Op::Set { new_value: -1 }],
        point: Point(0.5, -0.5),
        marker: Marker,
        score: Score { value: 0.25 },
        tree: Tree { label: "root".into(), children: vec![Tree { label: "leaf".into(), children: vec![] }] },
        document: Document {
            title: "t".into(),
            stamps: Stamps { created: 1, updated_at: None },
            annotation: Some(Note { note: "n".into() }),
        },
        grid: Grid { cells: vec![1, 2] },
        renamed: InternalName { r#type: 3 },
        email: Email { user: "a".into(), host: "b.c".into() },
        counter: 42,
        array: [1, 2, 3],
        tuple: ('é', true, None),
        unit: (),
        result: Err("bad".into()),
        maybe: Some(Some(-1)),
    }
}

fn described<T: PyMessage>() -> (Registry, Type) {
    let mut registry = Registry::new();
    let ty = registry.describe::<T>();
    assert!(registry.errors().is_empty(), "{:?}", registry.errors());
    (registry, ty)
}

fn kind<'r>(registry: &'r Registry, name: &str) -> &'r Kind {
    &registry.get(name).unwrap_or_else(|| panic!("`{name}` is defined")).kind
}

fn int(signed: bool, bits: u8) -> Type {
    Type::Int { signed, bits }
}

fn named(name: &str) -> Type {
    Type::Named(name.to_owned())
}

#[test]
fn describes_structs_with_serde_renames_skips_and_docs() {
    let (registry, ty) = described::<User>();
    assert_eq!(ty, named("User"));
    let definition = registry.get("User").expect("defined");
    assert_eq!(definition.docs, "A registered user.");
    assert!(definition.rust_path.ends_with("User"), "{}", definition.rust_path);
    assert_eq!(
        definition.kind,
        Kind::Struct {
            fields: vec![
                Field::new("userId", named("UserId"), "The user's id."),
                Field::new("displayName", Type::Str, ""),
                Field::new("nickname", Type::Optional(Box::new(Type::Str)), "Only sent when set.").optional(),
                Field::new("tags", Type::List(Box::new(Type::Str)), ""),
                Field::new("avatar", Type::Bytes, ""),
                Field::new("type", named("Role"), ""),
            ]
        }
    );
    assert_eq!(*kind(&registry, "UserId"), Kind::Newtype { inner: int(false, 64) });
    let Kind::Enum { representation: Representation::External, variants } = kind(&registry, "Role") else {
        panic!("Role is an external enum")
    };
    assert_eq!(variants.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["Admin", "Member", "guest-user"]);
}

#[test]
fn describes_generic_instances_under_their_own_names() {
    let (registry, ty) = described::<Page<Page<u8>>>();
    assert_eq!(ty, named("Page_Page_u8"));
    assert!(registry.get("Page_u8").is_some());
    assert_eq!(described::<Grid<2>>().1, named("Grid_2"));
    assert_eq!(described::<Page<User>>().1, named("Page_User"));
    assert_eq!(described::<InternalName>().1, named("Renamed"));
    assert_eq!(described::<Email>().1, Type::Str, "`into` describes the target type");
}

#[test]
fn describes_flatten_transparent_and_recursion() {
    let (registry, _) = described::<Document>();
    assert_eq!(
        *kind(&registry, "Document"),
        Kind::Struct {
            fields: vec![
                Field::new("title", Type::Str, ""),
                Field::new("created", int(true, 64), ""),
                Field::new("updated-at", Type::Optional(Box::new(int(true, 64))), ""),
                Field::new("note", Type::Str, "").optional(),
            ]
        }
    );
    assert_eq!(*kind(&described::<Score>().0, "Score"), Kind::Newtype { inner: Type::Float { bits: 32 } });
    let (registry, _) = described::<Tree>();
    assert_eq!(
        *kind(&registry, "Tree"),
        Kind::Struct {
            fields: vec![
                Field::new("label", Type::Str, ""),
                Field::new("children", Type::List(Box::new(named("Tree"))), "")
            ]
        }
    );
}

#[test]
fn describes_every_enum_representation() {
    let (registry, _) = described::<Event>();
    let Kind::Enum { representation, variants } = kind(&registry, "Event") else { panic!("enum") };
    assert_eq!(*representation, Representation::Internal { tag: "type".into() });
    let shapes: Vec<(&str, &VariantShape)> = variants.iter().map(|v| (v.name.as_str(), &v.shape)).collect();
    assert_eq!(
        shapes,
        [
            ("user_joined", &VariantShape::Struct(vec![Field::new("user", named("User"), "")])),
            ("ping", &VariantShape::Unit),
            // A newtype variant's content is merged into the tagged dict.
            (
                "moved",
                &VariantShape::Struct(vec![
                    Field::new("who", named("UserId"), ""),
                    Field::new("to", named("Point"), "")
                ])
            ),
            ("marked", &VariantShape::Struct(vec![])),
        ]
    );

    let (registry, _) = described::<Shape>();
    let Kind::Enum { variants, .. } = kind(&registry, "Shape") else { panic!("enum") };
    assert_eq!(variants.len(), 4, "skipped variants are not described");
    assert_eq!(variants[0].docs, "Nothing at all.");

    let (registry, _) = described::<Mixed>();
    let Kind::Enum { variants, .. } = kind(&registry, "Mixed") else { panic!("enum") };
    assert_eq!(
        variants[1],
        Variant {
            name: "Other".into(),
            rust_name: "Other".into(),
            docs: String::new(),
            untagged: true,
            shape: VariantShape::Newtype(Type::Str)
        }
    );

    let (registry, _) = described::<Op>();
    let Kind::Enum { variants, .. } = kind(&registry, "Op") else { panic!("enum") };
    assert_eq!(variants[0].shape, VariantShape::Struct(vec![Field::new("newValue", int(true, 32), "")]));
}

/// Declarations as the actor and callback macros submit them.
fn submitted_actor(registry: &mut Registry) -> ActorDecl {
    ActorDecl {
        name: "Submitted".into(),
        module: "pkg.submitted".into(),
        docs: String::new(),
        methods: vec![MethodDecl {
            python_name: "handle".into(),
            docs: String::new(),
            request: registry.describe::<Command>(),
            reply: registry.describe::<Page<Tree>>(),
            mode: HandlerMode::Async,
        }],
    }
}

fn submitted_callback(registry: &mut Registry) -> CallbackDecl {
    CallbackDecl {
        name: "notify".into(),
        docs: String::new(),
        arg: registry.describe::<Event>(),
        reply: registry.describe::<()>(),
        streaming: false,
    }
}

snake::__private::inventory::submit! { snake::schema::ActorEntry::new(submitted_actor) }
snake::__private::inventory::submit! { snake::schema::CallbackEntry::new(submitted_callback) }

#[test]
fn inventory_collects_submitted_declarations_for_the_stubs_command() {
    let declarations = Declarations::collect();
    assert_eq!(declarations.actors.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["Submitted"]);
    assert_eq!(declarations.callbacks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["notify"]);
    assert!(declarations.registry.get("Page_Tree").is_some(), "types of declarations are registered");

    let dir = std::env::temp_dir().join(format!("snake-schema-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let args = |mode: &str| ["prog", "--snake-stubs", mode, dir.to_str().expect("utf-8")].map(String::from);
    assert_eq!(snake::stubs::run_command(&args("check")), Some(1), "nothing written yet");
    assert_eq!(snake::stubs::run_command(&args("write")), Some(0));
    assert_eq!(snake::stubs::run_command(&args("check")), Some(0));
    let check = std::fs::read_to_string(dir.join("check_pkg_submitted.py")).expect("check file");
    assert!(check.ends_with("_Submitted: Submitted = pkg.submitted\n"), "{check}");
    let types = std::fs::read_to_string(dir.join("snake_types.py")).expect("types");
    assert!(types.contains("class Rich(TypedDict):"), "every submitted message type is listed");
    std::fs::write(dir.join("snake_types.py"), "# edited\n").expect("edit");
    assert_eq!(snake::stubs::run_command(&args("check")), Some(1), "a hand edit is stale");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inventory_lists_every_non_generic_message_type() {
    let declarations = Declarations::collect();
    let names: Vec<&str> = declarations.registry.definitions().map(|d| d.name.as_str()).collect();
    for expected in ["Command", "Document", "Event", "Renamed", "Rich", "Shape", "Tree", "User", "Page_User"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(!names.contains(&"Page"), "generic types are listed through their instances");
}

/// The declarations whose stubs are committed as the mypy fixture.
fn fixture() -> (Registry, Vec<ActorDecl>, Vec<CallbackDecl>) {
    let mut registry = Registry::new();
    registry.describe::<Rich>();
    let method = |python_name: &str, docs: &str, request: Type, reply: Type, mode| MethodDecl {
        python_name: python_name.into(),
        docs: docs.into(),
        request,
        reply,
        mode,
    };
    let accounts = ActorDecl {
        name: "Accounts".into(),
        module: "accounts".into(),
        docs: "The account service.".into(),
        methods: vec![
            method(
                "get_user",
                "Looks a user up.",
                registry.describe::<UserId>(),
                registry.describe::<Option<User>>(),
                HandlerMode::Sync,
            ),
            method("list_users", "", registry.describe::<u32>(), registry.describe::<Page<User>>(), HandlerMode::Async),
            method("events", "", registry.describe::<()>(), registry.describe::<Event>(), HandlerMode::Generator),
            method(
                "shapes",
                "",
                registry.describe::<Command>(),
                registry.describe::<Shape>(),
                HandlerMode::AsyncGenerator,
            ),
        ],
    };
    let callbacks = vec![
        CallbackDecl {
            name: "lookup".into(),
            docs: "Asks Rust for a user.".into(),
            arg: registry.describe::<UserId>(),
            reply: registry.describe::<Option<User>>(),
            streaming: false,
        },
        CallbackDecl {
            name: "tail".into(),
            docs: String::new(),
            arg: registry.describe::<Tree>(),
            reply: registry.describe::<Event>(),
            streaming: true,
        },
    ];
    (registry, vec![accounts], callbacks)
}

#[test]
fn committed_stubs_are_up_to_date() {
    let (registry, actors, callbacks) = fixture();
    let files = snake::stubs::render(&registry, &actors, &callbacks).expect("renders");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../python/tests/fixtures/stubs");
    if std::env::var_os("SNAKE_BLESS").is_some() {
        snake::stubs::write_files(&dir, &files).expect("writes the fixture");
    }
    if let Err(err) = snake::stubs::check_files(&dir, &files) {
        panic!("{err}\nregenerate with `SNAKE_BLESS=1 cargo test -p snake-runtime --test schema`");
    }
}

#[test]
fn fingerprints_of_derived_types_are_stable_and_shape_sensitive() {
    let (registry, ty) = described::<Rich>();
    let fingerprint = ty.fingerprint(&registry);
    assert_eq!(described::<Rich>().0.definitions().count(), registry.definitions().count());
    assert_eq!(ty.fingerprint(&described::<Rich>().0), fingerprint, "describing is deterministic");
    let (user_registry, user_ty) = described::<User>();
    assert_ne!(user_ty.fingerprint(&user_registry), fingerprint);
}

fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    Python::initialize();
    Python::attach(f)
}

/// Runs `code` with `v` bound to `value`, to mutate it.
fn mutate(py: Python<'_>, value: &Bound<'_, PyAny>, code: &str) {
    let locals = PyDict::new(py);
    locals.set_item("v", value).expect("bind");
    let code = CString::new(code).expect("no NUL");
    py.run(&code, None, Some(&locals)).unwrap_or_else(|err| panic!("mutation failed: {err}"));
}

#[test]
fn serde_py_output_agrees_with_the_description() {
    let (registry, ty) = described::<Rich>();
    with_python(|py| {
        let fresh = || snake::serde_py::to_python(py, &rich()).expect("converts");
        let value = fresh();
        check_value(&ty, &registry, &value).unwrap_or_else(|err| panic!("{err}"));
        // And serde_py reads back what the description accepts.
        let back: Rich = snake::serde_py::from_python(&value).expect("reads back");
        assert_eq!(back, rich());

        // Optional keys may be present or absent.
        assert!(
            value.get_item("user").expect("user").cast::<PyDict>().expect("dict").contains("nickname").expect("ok")
        );
        assert!(
            !value
                .get_item("page")
                .expect("page")
                .get_item("items")
                .expect("items")
                .get_item(0)
                .expect("first")
                .cast::<PyDict>()
                .expect("dict")
                .contains("nickname")
                .expect("ok")
        );

        let cases = [
            ("v['user']['userId'] = 'one'", "value.user.userId: expected int, got str"),
            ("del v['user']['displayName']", "value.user: User is missing the key \"displayName\""),
            ("v['user']['cache'] = 0", "value.user: User has no key \"cache\""),
            ("v['user']['type'] = 'Owner'", "value.user.type: \"Owner\" is not a variant of Role"),
            ("v['shapes'].append({'Triangle': 1.0})", "value.shapes[4]: \"Triangle\" is not a variant of Shape"),
            ("v['shapes'][1] = {'Circle': 'big'}", "value.shapes[1].Circle: expected float, got str"),
            ("v['shapes'][0] = {'Empty': None}", "value.shapes[0]: variant \"Empty\" of Shape is a unit variant"),
            ("v['events'][1]['type'] = 'pong'", "value.events[1]: \"pong\" is not a variant of Event"),
            ("v['events'][2]['to'] = [1.0, 2.0]", "value.events[2].to: expected Point, got list"),
            ("v['commands'][0]['c'] = None", "value.commands[0]: unit variant \"Stop\" of Command has no \"c\" key"),
            ("v['loose'][1] = 1.5", "value.loose[1]: matches no variant of Loose"),
            ("v['by_id'][4]['tags'] = {'a'}", "value.by_id[4].tags: expected list[str], got set"),
            ("v['by_role']['Owner'] = 1", "value.by_role['Owner']<key>: \"Owner\" is not a variant of Role"),
            ("v['array'] = (1, 2)", "value.array: expected a tuple of 3 items, got 2"),
            ("v['nested']['total'] = -1", "value.nested.total: -1 does not fit in u32"),
            ("v['tuple'] = ('ab', True, None)", "value.tuple[0]: expected a str of one character, got 2"),
            ("v['document']['note'] = 3", "value.document.note: expected str, got int"),
            (
                "v['tree']['children'][0]['children'] = [{'label': 'x'}]",
                "value.tree.children[0].children[0]: Tree is missing the key \"children\"",
            ),
            ("v['score'] = '1'", "value.score: expected float, got str"),
            ("v['marker'] = {}", "value.marker: expected None (Marker), got dict"),
            ("v['result'] = {'Err': 'x', 'Ok': 1}", "value.result: expected a dict with one key"),
            ("v['counter'] = 42", "value.counter: expected str, got int"),
        ];
        for (code, expected) in cases {
            let value = fresh();
            mutate(py, &value, code);
            let err = check_value(&ty, &registry, &value).expect_err(code);
            assert!(err.starts_with(expected), "`{code}`:\n  got      {err}\n  expected {expected}...");
        }
    });
}

#[test]
fn every_variant_round_trips_and_checks() {
    let (registry, _) = described::<Rich>();
    let value = rich();
    with_python(|py| {
        fn check<T: PyMessage + PartialEq + std::fmt::Debug>(py: Python<'_>, registry: &Registry, items: &[T]) {
            let ty = Registry::new().describe::<T>();
            for item in items {
                let obj = snake::serde_py::to_python(py, item).expect("converts");
                check_value(&ty, registry, &obj).unwrap_or_else(|err| panic!("{item:?}: {err}"));
                let back: T = snake::serde_py::from_python(&obj).expect("reads back");
                assert_eq!(&back, item);
            }
        }
        check(py, &registry, &value.shapes);
        check(py, &registry, &value.events);
        check(py, &registry, &value.commands);
        check(py, &registry, &value.loose);
        check(py, &registry, &value.mixed);
        check(py, &registry, &[Ok::<u8, String>(1), Err("e".into())]);
        assert!(snake::serde_py::to_python(py, &Shape::Hidden).is_err(), "serde refuses skipped variants");
        let empty_list = PyList::empty(py);
        let ty = Registry::new().describe::<Vec<Shape>>();
        check_value(&ty, &registry, empty_list.as_any()).expect("an empty list is a list of anything");
    });
}

#[test]
fn definitions_round_trip_through_serde() {
    // Descriptions are data: a child can send its own, e.g. to explain a fingerprint mismatch.
    let (registry, _) = described::<Rich>();
    let definitions: Vec<Definition> = registry.definitions().cloned().collect();
    let encoded = postcard::to_stdvec(&definitions).expect("encodes");
    assert_eq!(postcard::from_bytes::<Vec<Definition>>(&encoded).expect("decodes"), definitions);
}

/// One of two types that contain each other: without the option, each one's `SELF_DESCRIBING`
/// would need the other's, a cycle rustc reports.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
#[snake(self_describing)]
struct Forest {
    groves: Vec<Grove>,
}

#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Grove {
    name: String,
    inner: Option<Box<Forest>>,
}

/// A generic wrapper: self-describing exactly when its argument is.
#[derive(Serialize, Deserialize, PyMessage, Clone, Debug, PartialEq)]
struct Wrapper<T> {
    value: T,
}

#[test]
fn self_describing_follows_the_serde_attributes_and_the_fields() {
    use snake::Describe;

    // Postcard carries these: plain shapes, a skipped field, a skipped last variant, `into` a
    // string, a transparent struct, and a recursive type whose fields are all plain.
    let plain = [
        ("Role", Role::SELF_DESCRIBING),
        ("UserId", UserId::SELF_DESCRIBING),
        ("Point", Point::SELF_DESCRIBING),
        ("Marker", Marker::SELF_DESCRIBING),
        ("Score", Score::SELF_DESCRIBING),
        ("Tree", Tree::SELF_DESCRIBING),
        ("Stamps", Stamps::SELF_DESCRIBING),
        ("Note", Note::SELF_DESCRIBING),
        ("Shape", Shape::SELF_DESCRIBING),
        ("Moved", Moved::SELF_DESCRIBING),
        ("Op", Op::SELF_DESCRIBING),
        ("Grid<2>", Grid::<2>::SELF_DESCRIBING),
        ("InternalName", InternalName::SELF_DESCRIBING),
        ("Wrapper<Point>", Wrapper::<Point>::SELF_DESCRIBING),
        ("Option<Vec<Tree>>", <Option<Vec<Tree>>>::SELF_DESCRIBING),
        ("BTreeMap<Role, Point>", <BTreeMap<Role, Point>>::SELF_DESCRIBING),
    ];
    for (name, self_describing) in plain {
        assert!(!self_describing, "{name} is plain postcard");
    }
    let self_describing = [
        ("User (skip_serializing_if)", User::SELF_DESCRIBING),
        ("Page<u8> (skip_serializing_if)", Page::<u8>::SELF_DESCRIBING),
        ("Document (flatten)", Document::SELF_DESCRIBING),
        ("Event (internally tagged)", Event::SELF_DESCRIBING),
        ("Command (adjacently tagged)", Command::SELF_DESCRIBING),
        ("Loose (untagged)", Loose::SELF_DESCRIBING),
        ("Mixed (untagged variant)", Mixed::SELF_DESCRIBING),
        ("Email (from)", Email::SELF_DESCRIBING),
        ("Rich (fields)", Rich::SELF_DESCRIBING),
        ("Forest (option)", Forest::SELF_DESCRIBING),
        ("Grove (field)", Grove::SELF_DESCRIBING),
        ("Wrapper<Loose>", Wrapper::<Loose>::SELF_DESCRIBING),
        ("Vec<Loose>", <Vec<Loose>>::SELF_DESCRIBING),
        ("Option<Box<Event>>", <Option<Box<Event>>>::SELF_DESCRIBING),
        ("BTreeMap<String, Command>", <BTreeMap<String, Command>>::SELF_DESCRIBING),
        ("HashMap<UserId, User>", <HashMap<UserId, User>>::SELF_DESCRIBING),
        ("(u8, Loose)", <(u8, Loose)>::SELF_DESCRIBING),
        ("Result<u8, Mixed>", <Result<u8, Mixed>>::SELF_DESCRIBING),
        ("[Document; 2]", <[Document; 2]>::SELF_DESCRIBING),
    ];
    for (name, self_describing) in self_describing {
        assert!(self_describing, "{name} needs the self-describing form");
    }
    // Evaluated where `MethodCodec::of` evaluates it: in a constant.
    const { assert!(Rich::SELF_DESCRIBING && !Tree::SELF_DESCRIBING) };
}
