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
fn a_shared_bytes_field_is_a_memoryview_in_and_any_buffer_out() {
    let mut registry = Registry::new();
    registry.define("Image".into(), "t::Image", "", |registry| Kind::Struct {
        fields: vec![
            Field::new("pixels", <crate::SharedBytes as crate::Describe>::describe(registry), ""),
            Field::new("mask", Type::Optional(Box::new(Type::Buffer)), ""),
        ],
    });
    let text = types_file(&registry);
    let expected = "class Image(TypedDict):\n    pixels: memoryview | bytes | bytearray\n    \
                    mask: Optional[memoryview | bytes | bytearray]\n";
    assert!(text.contains(expected), "{text}");
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

/// One binary's declarations: a struct `name` with `fields` (Rust path `rust_path`) and an actor
/// `actor` whose module `module` has `run(name) -> int`.
fn binary_declarations(name: &str, rust_path: &str, fields: &[&str], actor: &str, module: &str) -> Declarations {
    let mut registry = Registry::new();
    let request = registry.define(name.to_owned(), rust_path, "", |_| Kind::Struct {
        fields: fields.iter().map(|f| Field::new(f, Type::Str, "")).collect(),
    });
    let actor = ActorDecl {
        name: actor.to_owned(),
        module: module.to_owned(),
        docs: String::new(),
        methods: vec![MethodDecl {
            python_name: "run".into(),
            docs: String::new(),
            request,
            reply: Type::Int { signed: true, bits: 64 },
            mode: HandlerMode::Sync,
        }],
    };
    let callback = CallbackDecl {
        name: format!("{}_callback", module.replace('.', "_")),
        docs: String::new(),
        arg: Type::Str,
        reply: Type::Str,
        streaming: false,
    };
    Declarations { registry, actors: vec![actor], callbacks: vec![callback] }
}

fn stale_names(err: StubsError) -> Vec<(String, Staleness)> {
    let StubsError::Stale(stale) = err else { panic!("stale expected: {err}") };
    stale
        .files
        .into_iter()
        .map(|f| {
            let problem = match f.problem {
                Staleness::Differs { .. } => Staleness::Differs { diff: String::new() },
                other => other,
            };
            (f.name, problem)
        })
        .collect()
}

#[test]
fn two_binaries_share_a_directory() {
    let dir = TempDir::new();
    let alpha = binary_declarations("Ask", "alpha::Ask", &["q"], "Alpha", "alpha_handlers");
    let beta = binary_declarations("Order", "beta::Order", &["item"], "Beta", "beta_handlers");

    write_merged(&dir.0, "alpha", &alpha).expect("alpha writes");
    write_merged(&dir.0, "beta", &beta).expect("beta writes");
    for file in ["check_alpha_handlers.py", "check_beta_handlers.py", MANIFEST_FILE] {
        assert!(dir.0.join(file).exists(), "{file} missing");
    }
    let read = |name: &str| std::fs::read_to_string(dir.0.join(name)).expect("read");
    let types = read(TYPES_FILE);
    assert!(types.contains("class Ask(TypedDict):\n    q: str\n"), "{types}");
    assert!(types.contains("class Order(TypedDict):\n    item: str\n"), "{types}");
    let actors = read(ACTORS_FILE);
    assert!(actors.contains("class Alpha(Protocol):") && actors.contains("class Beta(Protocol):"), "{actors}");
    let callbacks = read(CALLBACKS_FILE);
    assert!(callbacks.contains("def alpha_handlers_callback(") && callbacks.contains("def beta_handlers_callback("));
    let schema: serde_json::Value = serde_json::from_str(&read(SCHEMA_FILE)).expect("json");
    assert_eq!(schema["types"]["Ask"]["rust_path"], "alpha::Ask");
    assert_eq!(schema["types"]["Order"]["rust_path"], "beta::Order");
    let manifest: serde_json::Value = serde_json::from_str(&read(MANIFEST_FILE)).expect("json");
    let binaries: Vec<&String> = manifest["binaries"].as_object().expect("object").keys().collect();
    assert_eq!(binaries, ["alpha", "beta"]);
    assert_eq!(manifest["binaries"]["alpha"]["actors"][0]["name"], "Alpha");

    check_merged(&dir.0, "alpha", &alpha).expect("alpha is up to date");
    check_merged(&dir.0, "beta", &beta).expect("beta is up to date");
    assert!(write_merged(&dir.0, "alpha", &alpha).expect("rewrites").is_empty(), "nothing changed");

    // alpha's declarations change: alpha's check sees it, beta's does not.
    let alpha2 = binary_declarations("Ask", "alpha::Ask", &["q", "lang"], "Alpha", "alpha_handlers");
    assert_eq!(
        stale_names(check_merged(&dir.0, "alpha", &alpha2).expect_err("stale")),
        [
            (SCHEMA_FILE.to_owned(), Staleness::Differs { diff: String::new() }),
            (MANIFEST_FILE.to_owned(), Staleness::Differs { diff: String::new() }),
            (TYPES_FILE.to_owned(), Staleness::Differs { diff: String::new() }),
        ]
    );
    check_merged(&dir.0, "beta", &beta).expect("beta is still up to date");
    write_merged(&dir.0, "alpha", &alpha2).expect("alpha writes again");
    check_merged(&dir.0, "alpha", &alpha2).expect("alpha is up to date again");
    check_merged(&dir.0, "beta", &beta).expect("beta too");
    assert!(read(TYPES_FILE).contains("class Ask(TypedDict):\n    q: str\n    lang: str\n"));

    // beta drops its actor: its check file is orphaned for beta only, and removed when it writes.
    let beta2 = Declarations { actors: Vec::new(), ..beta.clone() };
    let problems = stale_names(check_merged(&dir.0, "beta", &beta2).expect_err("stale"));
    assert!(problems.contains(&("check_beta_handlers.py".to_owned(), Staleness::Orphaned)), "{problems:?}");
    write_merged(&dir.0, "beta", &beta2).expect("beta writes");
    assert!(!dir.0.join("check_beta_handlers.py").exists());
    assert!(dir.0.join("check_alpha_handlers.py").exists(), "alpha's check file survives");
    check_merged(&dir.0, "alpha", &alpha2).expect("alpha is up to date");
    assert!(!read(ACTORS_FILE).contains("class Beta("));
}

#[test]
fn the_writing_binary_replaces_its_own_and_another_binary_older_copy_of_a_declaration() {
    let dir = TempDir::new();
    // Both binaries link the same actor; beta is rebuilt with a changed type and writes first.
    let old = binary_declarations("Ask", "lib::Ask", &["q"], "Shared", "shared");
    let new = binary_declarations("Ask", "lib::Ask", &["q", "lang"], "Shared", "shared");
    write_merged(&dir.0, "alpha", &old).expect("alpha writes");
    write_merged(&dir.0, "beta", &new).expect("beta writes over alpha's older copy");
    assert!(std::fs::read_to_string(dir.0.join(TYPES_FILE)).expect("read").contains("    lang: str\n"));
    check_merged(&dir.0, "beta", &new).expect("beta is up to date");
    let problems = stale_names(check_merged(&dir.0, "alpha", &new).expect_err("alpha's recorded copy is old"));
    assert_eq!(problems, [(MANIFEST_FILE.to_owned(), Staleness::Differs { diff: String::new() })]);
    write_merged(&dir.0, "alpha", &new).expect("alpha writes");
    check_merged(&dir.0, "alpha", &new).expect("alpha is up to date");
    check_merged(&dir.0, "beta", &new).expect("beta is up to date");
    let check = std::fs::read_to_string(dir.0.join("check_shared.py")).expect("read");
    assert!(check.ends_with("_Shared: Shared = shared\n"), "identical declarations are one: {check}");
}

#[test]
fn one_module_function_with_two_signatures_is_refused() {
    let dir = TempDir::new();
    let alpha = binary_declarations("Ask", "alpha::Ask", &["q"], "Alpha", "shared.handlers");
    let beta = binary_declarations("Order", "beta::Order", &["item"], "Beta", "shared.handlers");
    write_merged(&dir.0, "alpha", &alpha).expect("alpha writes");
    let before = std::fs::read_to_string(dir.0.join(TYPES_FILE)).expect("read");
    let err = write_merged(&dir.0, "beta", &beta).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "conflicting declarations:\n  - function `run` of module `shared.handlers` is declared by actor `Alpha` \
         (binary `alpha`) with request `Ask` (Rust `alpha::Ask`), reply `int`, sync and by actor `Beta` \
         (binary `beta`) with request `Order` (Rust `beta::Order`), reply `int`, sync; a module has one \
         signature per function: make the declarations agree or bind another module"
    );
    assert_eq!(std::fs::read_to_string(dir.0.join(TYPES_FILE)).expect("read"), before, "nothing written");
    assert!(matches!(check_merged(&dir.0, "beta", &beta), Err(StubsError::Conflict { .. })));

    // Within one binary too.
    let mut both = alpha.clone();
    both.actors.push(ActorDecl { name: "Other".into(), methods: Vec::new(), ..beta.actors[0].clone() });
    both.actors[1].methods = beta.actors[0].methods.clone();
    both.actors[1].methods[0].request = Type::Str;
    let err = render(&both.registry, &both.actors, &both.callbacks).expect_err("conflict");
    assert!(err.to_string().contains("actor `Alpha` with request `Ask` (Rust `alpha::Ask`)"), "{err}");
    assert!(err.to_string().contains("actor `Other` with request `str`"), "{err}");

    // The same function with the same signature from two actors is fine.
    let gamma = binary_declarations("Ask", "alpha::Ask", &["q"], "Gamma", "shared.handlers");
    write_merged(&dir.0, "gamma", &gamma).expect("identical signatures agree");
    let check = std::fs::read_to_string(dir.0.join("check_shared_handlers.py")).expect("read");
    assert!(check.ends_with("_Alpha: Alpha = shared.handlers\n_Gamma: Gamma = shared.handlers\n"), "{check}");
}

#[test]
fn one_type_name_for_two_rust_types_across_binaries_is_refused() {
    let dir = TempDir::new();
    write_merged(&dir.0, "alpha", &binary_declarations("Ask", "alpha::Ask", &["q"], "Alpha", "a"))
        .expect("alpha writes");
    let err = write_merged(&dir.0, "beta", &binary_declarations("Ask", "beta::Ask", &["q"], "Beta", "b"))
        .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "conflicting declarations:\n  - two Rust types are both named `Ask` in Python: `beta::Ask` (binary `beta`) \
         and `alpha::Ask` (binary `alpha`); rename one with #[snake(name = \"...\")]"
    );
}
