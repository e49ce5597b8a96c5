use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::protocol::HandlerMode;
use crate::schema::{Field, Kind, MethodDecl, Representation, Type, Variant, VariantShape};

fn variant(name: &str, shape: VariantShape) -> Variant {
    Variant { name: name.to_owned(), rust_name: name.to_owned(), docs: String::new(), untagged: false, shape }
}

fn enum_registry(representation: Representation) -> Registry {
    let mut registry = Registry::new();
    registry.define("Point".into(), "t::Point", "", |_| Kind::TupleStruct {
        items: vec![Type::Float { bits: 64 }, Type::Float { bits: 64 }],
    });
    registry.define("E".into(), "t::E", "An enum.", |_| Kind::Enum {
        representation,
        variants: vec![
            variant("A", VariantShape::Unit),
            variant("B", VariantShape::Newtype(Type::Named("Point".into()))),
            variant("C", VariantShape::Struct(vec![Field::new("x", Type::Str, "The x.")])),
            variant("D", VariantShape::Unit),
        ],
    });
    registry
}

fn types_file(registry: &Registry) -> String {
    let files = render(registry, &[], &[]).expect("renders");
    let text = files[TYPES_FILE].clone();
    // Skip the header and module docstring, which every test would otherwise repeat.
    text[text.find("\n\n\n").expect("a definition") + 3..].to_owned()
}

#[test]
fn externally_tagged_enums_merge_unit_variants_into_one_literal() {
    let registry = enum_registry(Representation::External);
    let expected = r#"Point: TypeAlias = tuple[float, float]


@final
class E_B(TypedDict):
    B: Point


class E_C_Fields(TypedDict):
    x: str
    """The x."""


@final
class E_C(TypedDict):
    C: E_C_Fields


E: TypeAlias = Union[Literal["A", "D"], E_B, E_C]
"""An enum."""
"#;
    assert_eq!(types_file(&registry), expected);
}

#[test]
fn internally_and_adjacently_tagged_enums_are_dicts_with_the_tag() {
    let mut registry = Registry::new();
    registry.define("Inner".into(), "t::Inner", "", |_| Kind::Struct { fields: vec![Field::new("n", Type::Bool, "")] });
    registry.define("E".into(), "t::E", "", |_| Kind::Enum {
        representation: Representation::Internal { tag: "kind".into() },
        variants: vec![
            variant("A", VariantShape::Unit),
            variant("B", VariantShape::Newtype(Type::Named("Inner".into()))),
        ],
    });
    let text = types_file(&registry);
    assert!(text.contains("class E_A(TypedDict):\n    kind: Literal[\"A\"]\n"), "{text}");
    assert!(text.contains("class E_B(TypedDict):\n    kind: Literal[\"B\"]\n    n: bool\n"), "{text}");
    assert!(text.ends_with("E: TypeAlias = Union[E_A, E_B]\n"), "{text}");

    let registry = enum_registry(Representation::Adjacent { tag: "t".into(), content: "c".into() });
    let text = types_file(&registry);
    assert!(text.contains("class E_A(TypedDict):\n    t: Literal[\"A\"]\n\n"), "{text}");
    assert!(text.contains("class E_B(TypedDict):\n    t: Literal[\"B\"]\n    c: Point\n"), "{text}");
    assert!(text.contains("class E_C(TypedDict):\n    t: Literal[\"C\"]\n    c: E_C_Fields\n"), "{text}");
}

#[test]
fn untagged_variants_are_their_bare_content() {
    let registry = enum_registry(Representation::Untagged);
    let text = types_file(&registry);
    assert!(text.contains("class E_C(TypedDict):\n    x: str\n"), "{text}");
    assert!(text.ends_with("E: TypeAlias = Union[None, Point, E_C, None]\n\"\"\"An enum.\"\"\"\n"), "{text}");
}

#[test]
fn keys_that_are_not_identifiers_use_the_functional_syntax() {
    let mut registry = Registry::new();
    registry.define("Odd".into(), "t::Odd", "Odd keys.", |_| Kind::Struct {
        fields: vec![
            Field::new("from", Type::Int { signed: true, bits: 64 }, "A keyword."),
            Field::new("a-b", Type::Str, "").optional(),
        ],
    });
    let expected = r#"# Odd keys.
Odd = TypedDict(
    "Odd",
    {
        # A keyword.
        "from": int,
        "a-b": NotRequired[str],
    },
)
"#;
    assert_eq!(types_file(&registry), expected);
}

#[test]
fn all_optional_keys_make_a_non_total_typed_dict() {
    let mut registry = Registry::new();
    registry.define("Patch".into(), "t::Patch", "", |_| Kind::Struct {
        fields: vec![Field::new("a", Type::Str, "").optional(), Field::new("b", Type::Bool, "").optional()],
    });
    registry.define("Empty".into(), "t::Empty", "", |_| Kind::Struct { fields: vec![] });
    let text = types_file(&registry);
    assert!(text.contains("class Patch(TypedDict, total=False):\n    a: str\n    b: bool\n"), "{text}");
    assert!(text.contains("class Empty(TypedDict):\n    pass\n"), "{text}");
}

#[test]
fn definitions_follow_their_dependencies_and_quote_recursion() {
    let mut registry = Registry::new();
    // `A` sorts first but needs `Z`; `Z` refers back to `A`.
    registry.define("A".into(), "t::A", "", |_| Kind::Struct {
        fields: vec![Field::new("z", Type::Named("Z".into()), "")],
    });
    registry.define("Z".into(), "t::Z", "", |_| Kind::Newtype {
        inner: Type::Optional(Box::new(Type::List(Box::new(Type::Named("A".into()))))),
    });
    let text = types_file(&registry);
    assert_eq!(text, "Z: TypeAlias = Optional[list[\"A\"]]\n\n\nclass A(TypedDict):\n    z: Z\n", "{text}");
}

#[test]
fn clashing_and_reserved_names_are_errors() {
    let mut registry = Registry::new();
    registry.define("E".into(), "t::E", "", |_| Kind::Enum {
        representation: Representation::External,
        variants: vec![variant("B", VariantShape::Newtype(Type::Str))],
    });
    registry.define("E_B".into(), "t::E_B", "", |_| Kind::UnitStruct);
    assert!(matches!(render(&registry, &[], &[]), Err(StubsError::NameClash { name, .. }) if name == "E_B"));

    let mut registry = Registry::new();
    registry.define("Literal".into(), "t::Literal", "", |_| Kind::UnitStruct);
    assert!(matches!(render(&registry, &[], &[]), Err(StubsError::InvalidName { name, .. }) if name == "Literal"));

    let mut registry = Registry::new();
    registry.define("X".into(), "a::X", "", |_| Kind::UnitStruct);
    registry.define("X".into(), "b::X", "", |_| Kind::UnitStruct);
    let err = render(&registry, &[], &[]).expect_err("conflict");
    assert!(err.to_string().contains("`a::X` and `b::X`"), "{err}");
}

fn calc() -> ActorDecl {
    let method = |name: &str, mode: HandlerMode| MethodDecl {
        python_name: name.to_owned(),
        docs: String::new(),
        request: Type::Named("Req".into()),
        reply: Type::Optional(Box::new(Type::Int { signed: true, bits: 64 })),
        mode,
    };
    ActorDecl {
        name: "Calc".into(),
        module: "pkg.calc".into(),
        docs: "A calculator.".into(),
        methods: vec![
            MethodDecl { docs: "Adds.".into(), ..method("add", HandlerMode::Sync) },
            method("fetch", HandlerMode::Async),
            method("count", HandlerMode::Generator),
            method("watch", HandlerMode::AsyncGenerator),
        ],
    }
}

#[test]
fn actors_become_protocols_with_a_check_file_per_module() {
    let mut registry = Registry::new();
    registry.define("Req".into(), "t::Req", "", |_| Kind::UnitStruct);
    let files = render(&registry, &[calc()], &[]).expect("renders");
    let actors = &files[ACTORS_FILE];
    let expected = r#"from collections.abc import AsyncIterator, Iterator
from typing import Optional, Protocol

from snake_types import Req


class Calc(Protocol):
    """A calculator.

    Implemented by the module `pkg.calc`.
    """

    def add(self, request: Req, /) -> Optional[int]:
        """Adds."""
        ...

    async def fetch(self, request: Req, /) -> Optional[int]: ...

    def count(self, request: Req, /) -> Iterator[Optional[int]]: ...

    def watch(self, request: Req, /) -> AsyncIterator[Optional[int]]: ...
"#;
    assert!(actors.ends_with(expected), "{actors}");
    let check = &files["check_pkg_calc.py"];
    assert!(check.ends_with("import pkg.calc\n\nfrom snake_actors import Calc\n\n_Calc: Calc = pkg.calc\n"), "{check}");
}

#[test]
fn actor_names_are_validated() {
    let registry = Registry::new();
    let mut bad = calc();
    bad.methods[0].python_name = "def".into();
    assert!(matches!(render(&registry, &[bad], &[]), Err(StubsError::InvalidName { name, .. }) if name == "def"));
    let mut bad = calc();
    bad.module = "pkg-calc".into();
    assert!(matches!(render(&registry, &[bad], &[]), Err(StubsError::InvalidName { .. })));
    assert!(matches!(render(&registry, &[calc(), calc()], &[]), Err(StubsError::NameClash { .. })));
}

#[test]
fn callbacks_have_a_blocking_and_an_async_spelling() {
    let registry = Registry::new();
    let callbacks = [
        CallbackDecl {
            name: "lookup".into(),
            docs: "Finds.".into(),
            arg: Type::Str,
            reply: Type::Bool,
            streaming: false,
        },
        CallbackDecl { name: "tail".into(), docs: String::new(), arg: Type::Str, reply: Type::Bytes, streaming: true },
    ];
    let files = render(&registry, &[], &callbacks).expect("renders");
    let text = &files[CALLBACKS_FILE];
    for expected in [
        "def lookup(arg: str, /) -> bool:\n    \"\"\"Finds.\n\n    Blocks the calling thread until Rust answers.\n    \"\"\"\n",
        "async def lookup_async(arg: str, /) -> bool:\n",
        "def tail(arg: str, /) -> Iterator[bytes]:\n",
        "def tail_async(arg: str, /) -> AsyncIterator[bytes]:\n",
        "from collections.abc import AsyncIterator, Callable, Iterator\n",
        // A real module: each spelling calls the fake a test installed.
        "    result: bool = _fake(\"lookup\")(arg)\n    return result\n",
        "    result: bool = await _fake_async(\"lookup\", arg)\n    return result\n",
        "    return _fake_stream(\"tail\", arg)\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn the_schema_file_holds_the_model_as_json() {
    let registry = enum_registry(Representation::External);
    let callbacks = [CallbackDecl {
        name: "lookup".into(),
        docs: String::new(),
        arg: Type::Str,
        reply: Type::Bool,
        streaming: false,
    }];
    let files = render(&registry, &[calc()], &callbacks).expect("renders");
    let schema: serde_json::Value = serde_json::from_str(&files[SCHEMA_FILE]).expect("valid JSON");
    assert_eq!(schema["version"], 1);
    assert_eq!(schema["actors"][0]["module"], "pkg.calc");
    assert_eq!(schema["callbacks"][0]["arg"], "Str");
    assert_eq!(schema["callbacks"][0]["reply"], "Bool");
    let types = schema["types"].as_object().expect("types by name");
    assert_eq!(types.keys().collect::<Vec<_>>(), registry.definitions().map(|d| &d.name).collect::<Vec<_>>());
    for definition in registry.definitions() {
        let entry = &types[&definition.name];
        // The model itself, so the file cannot say anything the stubs do not.
        let kind: crate::schema::Kind = serde_json::from_value(entry["kind"].clone()).expect("a Kind");
        assert_eq!(kind, definition.kind);
        assert_eq!(entry["allow_unknown_keys"], false);
    }
}

#[test]
fn output_is_deterministic_and_headed() {
    let registry = enum_registry(Representation::External);
    let first = render(&registry, &[calc()], &[]).expect("renders");
    let second = render(&registry.clone(), &[calc()], &[]).expect("renders");
    assert_eq!(first, second);
    for (name, text) in &first {
        assert!(name == SCHEMA_FILE || text.starts_with(HEADER), "{name}");
        assert!(!text.contains('\r'), "{name}");
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{name}");
    }
    assert_eq!(
        first.keys().map(String::as_str).collect::<Vec<_>>(),
        ["check_pkg_calc.py", ACTORS_FILE, CALLBACKS_FILE, SCHEMA_FILE, TYPES_FILE]
    );
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("snake-stubs-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn write_only_touches_changed_files_and_check_reports_staleness() {
    let dir = TempDir::new();
    let registry = enum_registry(Representation::External);
    let files = render(&registry, &[calc()], &[]).expect("renders");

    let err = check_files(&dir.0, &files).expect_err("nothing written yet");
    let StubsError::Stale(stale) = err else { panic!("stale expected: {err}") };
    assert_eq!(stale.files.len(), files.len());
    assert!(stale.files.iter().all(|f| f.problem == Staleness::Missing));

    assert_eq!(write_files(&dir.0, &files).expect("writes").len(), files.len());
    check_files(&dir.0, &files).expect("up to date");
    assert!(write_files(&dir.0, &files).expect("writes").is_empty(), "unchanged files are not rewritten");

    // A hand edit, a user's own file and a left-over generated file.
    let types = dir.0.join(TYPES_FILE);
    let edited = std::fs::read_to_string(&types).expect("read").replace("B: Point", "B: int");
    std::fs::write(&types, edited).expect("edit");
    std::fs::write(dir.0.join("check_mine.py"), "# my own file\n").expect("user file");
    std::fs::write(dir.0.join("check_old.py"), format!("{HEADER}import old\n")).expect("orphan");
    let err = check_files(&dir.0, &files).expect_err("stale");
    let StubsError::Stale(stale) = err else { panic!("stale expected: {err}") };
    assert_eq!(
        stale.files,
        [
            StaleFile {
                name: TYPES_FILE.into(),
                problem: Staleness::Differs { diff: "@@ -24,1 +24,1 @@\n-    B: int\n+    B: Point\n".into() }
            },
            StaleFile { name: "check_old.py".into(), problem: Staleness::Orphaned },
        ]
    );
    assert!(stale.to_string().contains("snake_types.py: differs\n    @@ -24,1 +24,1 @@\n    -    B: int\n"), "{stale}");

    assert_eq!(write_files(&dir.0, &files).expect("writes"), [types]);
    check_files(&dir.0, &files).expect("up to date again");
    assert!(dir.0.join("check_mine.py").exists(), "files snake did not generate are never removed");
    assert!(!dir.0.join("check_old.py").exists());
}

#[test]
fn run_command_ignores_other_arguments_and_reports_usage() {
    let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(run_command(&args(&["prog"])), None);
    assert_eq!(run_command(&args(&["prog", "--other"])), None);
    assert_eq!(run_command(&args(&["prog", "--snake-stubs"])), Some(2));
    assert_eq!(run_command(&args(&["prog", "--snake-stubs", "frobnicate", "dir"])), Some(2));
    let dir = TempDir::new();
    let dir_arg = dir.0.to_string_lossy().into_owned();
    assert_eq!(run_command(&args(&["prog", "--snake-stubs", "check", &dir_arg])), Some(1), "missing files");
    assert_eq!(run_command(&args(&["prog", "--snake-stubs", "write", &dir_arg])), Some(0));
    assert_eq!(run_command(&args(&["prog", "--snake-stubs", "check", &dir_arg])), Some(0));
}
