//! Procedural macros for snake. Use them through the `snake` crate (`#[snake::main]`), which
//! re-exports them; expansions reach the runtime only through `snake::__private`.

mod actor;
mod callback;
mod main_attr;
mod py_message;
mod support;

use proc_macro::TokenStream;

/// Makes `async fn main` the entry point of a snake binary.
///
/// Before any of `main`'s code runs, the generated `fn main` checks whether this process was
/// started as a Python child; if so it serves the requested actor and never returns. Otherwise it
/// builds the tokio runtime and runs the body, as `#[tokio::main]` would. Mistakes are all
/// reported at once, next to the function, which is kept so that the rest of the crate still
/// compiles.
///
/// | option | default | meaning |
/// |---|---|---|
/// | `flavor = "multi_thread"` / `"current_thread"` | `"multi_thread"` | the parent's runtime |
/// | `worker_threads = N` | tokio's default | worker threads of a multi-thread parent runtime |
/// | `child_init = path` | current-thread runtime | `fn() -> snake::RuntimeConfig`, run first in a child |
/// | `crate = path` | `::snake` | where the `snake` crate is, if renamed |
///
/// ```ignore
/// #[snake::main(flavor = "current_thread")]
/// async fn main() {
///     // spawn Python actors here
/// }
/// ```
///
/// (This crate cannot depend on `snake`, so the compiled example is on `snake::main`.)
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_attr::expand(args.into(), item.into()).into()
}

/// Derives `snake::schema::Describe`, the Python shape of a message type, so that it is a
/// `snake::PyMessage` and appears in the generated Python stubs.
///
/// The description is what `snake::serde_py` produces: structs are dicts (`TypedDict`), enums
/// are tagged as serde's attributes say, doc comments become docstrings. A generic type is named
/// per instance (`Page<User>` is `Page_User` in Python). It also checks, on the type's name,
/// that the type is `Serialize + DeserializeOwned + Send + 'static`.
///
/// | option | where | default | meaning |
/// |---|---|---|---|
/// | `#[snake(crate = path)]` | type | `::snake` | path of the `snake` crate, if renamed |
/// | `#[snake(name = "Name")]` | type | the Rust identifier | the Python name (an identifier) |
/// | `#[snake(as = Type)]` | field | the field's type | describe the field as `Type`, for `#[serde(with)]` |
/// | `#[snake(self_describing)]` | type | from the attributes | always carry values self-describingly |
/// | `#[snake(allow_unknown_keys)]` | type | refused | dicts from Python may carry keys the struct (or an enum's struct variant) does not have; they are skipped |
///
/// A dict that Python returns (or passes to a callback) with a key the struct does not have is a
/// conversion error naming the key and its path (`reply: unknown key `prise` (expected one of
/// `name`, `price`)`), so a misspelled optional field is not silently dropped.
///
/// serde attributes honoured: `rename`, `rename_all`, `rename_all_fields`, `tag`, `content`,
/// `untagged` (enum and variant), `skip`, `skip_serializing`, `skip_serializing_if` (the key may be
/// missing: `NotRequired`), `transparent`, `into`, `flatten` (of structs with named fields).
/// `remote` and `serialize_with` without `#[snake(as = ...)]` are errors; the others do not change
/// the shape and are ignored.
///
/// It also sets `Describe::SELF_DESCRIBING` when postcard cannot carry the type between the
/// processes (tagged or untagged enums, `flatten`, `skip_serializing_if`, a struct `tag`,
/// `with`/`deserialize_with`, `from`, a field skipped on one side only, or a field type that is
/// self-describing); such values travel as a self-describing tree. Types that contain each other
/// make that constant a cycle: put `#[snake(self_describing)]` on one of them.
///
/// ```ignore
/// // Compiled as a doctest on `snake::PyMessage`, where the derive is usable.
/// #[derive(serde::Serialize, serde::Deserialize, snake::PyMessage)]
/// #[serde(tag = "kind", rename_all = "snake_case")]
/// enum Event {
///     /// Someone joined.
///     Joined { user: String },
///     Left,
/// }
/// ```
#[proc_macro_derive(PyMessage, attributes(snake, serde))]
pub fn py_message(input: TokenStream) -> TokenStream {
    py_message::expand(input.into()).into()
}

/// Declares the functions of a Python module and replaces the declaration with a typed handle,
/// a struct of the same name, to a child process that runs the module.
///
/// The item is a trait-like declaration: one `fn` per Python function, without `self` and
/// without a body, taking one request argument and returning the reply. **The trait itself is
/// not emitted**: `#[snake::actor] pub trait Inference { ... }` becomes `pub struct Inference`
/// (`Clone`, `Debug`) with
///
/// - `pub async fn spawn(builder: snake::PythonChildProcessBuilder) -> Result<Self, snake::PythonExecutionError>`,
///   which starts the child and checks that the module defines every function with the declared kind;
/// - `pub async fn pool(builder: snake::PythonChildProcessBuilder) -> Result<Self, snake::PythonExecutionError>`,
///   which starts the builder's `workers` children (by default one per core) behind the same handle;
/// - `pub fn actor_ref(&self) -> &kameo::actor::ActorRef<snake::PythonActor<..>>`, the kameo actor;
/// - `pub fn with_key<K: Hash + ?Sized>(&self, key: &K) -> Self`, a handle whose calls go to the
///   worker `key` maps to (session affinity);
/// - `pub async fn reload(&self)` and `reload_with(&self, config: snake::PythonConfig)`, which
///   replace every worker with new code one at a time without failing a call;
/// - `pub async fn metrics(&self) -> Result<snake::MetricsSnapshot, snake::PythonExecutionError>`,
///   the call metrics and each worker's state;
/// - `pub fn shared_bytes(&self, len: usize) -> snake::SharedBytesMut`, a zeroed buffer in the
///   shared memory of the child the handle's calls go to, which crosses by reference each time
///   it is sent, and (feature `numpy`) `pub fn shared_array<T, D>(&self, shape: D) ->
///   snake::SharedArrayMut<T, D>`, the same for an array;
/// - per declared `fn name(request: Req) -> Rep`, `pub async fn name(&self, request: Req) -> Result<Rep, snake::PythonExecutionError>`,
///   with the declared docs (and a `snake::ReplyStream<T>` for `-> snake::Stream<T>`).
///
/// | declared | Python function | handle method returns |
/// |---|---|---|
/// | `fn f(request: Req) -> Rep;` | `def f(request)` | `Result<Rep, PythonExecutionError>` |
/// | `async fn f(request: Req) -> Rep;` | `async def f(request)` | `Result<Rep, PythonExecutionError>` |
/// | `fn f(request: Req) -> snake::Stream<T>;` | generator `def f(request): yield ...` | `Result<ReplyStream<T>, PythonExecutionError>` |
/// | `async fn f(request: Req) -> snake::Stream<T>;` | async generator | `Result<ReplyStream<T>, PythonExecutionError>` |
///
/// A return type whose last path segment is `Stream<T>` is a stream, and must be `snake::Stream`
/// (return a message type that happens to be named `Stream` through a type alias). Requests,
/// replies and items are `snake::PyMessage`s (derive it, or use std types); a type that is not
/// is reported on the type. The docs of the declaration and its methods become the handle's
/// docs and the docstrings of the generated Python `Protocol` (see `snake::stubs`); other
/// attributes are moved to the handle and its methods, except `#[cfg]`, which belongs before
/// `#[snake::actor]`. A method may not be called `spawn`, `pool`, `actor_ref`, `with_key`,
/// `reload`, `reload_with`, `metrics`, `shared_bytes` or `shared_array` in Rust (rename it and
/// keep the Python name with `python = "..."`).
///
/// | option | where | default | meaning |
/// |---|---|---|---|
/// | `module = "pkg.module"` | `#[snake::actor(...)]` | the trait name in snake_case (`HttpClient`: `http_client`) | the Python module the child imports, unless the builder's config names another |
/// | `name = "Name"` | `#[snake::actor(...)]` | the trait name | the Python `Protocol` class in the stubs |
/// | `crate = path` | `#[snake::actor(...)]` | `::snake` | where the `snake` crate is, if renamed |
/// | `python = "name"` | `#[snake(...)]` on a method | the method name | the Python function's name |
/// | `retry` | `#[snake(...)]` on a method | off | in a pool, the call is sent again, once, to another worker when its worker dies under it (`ChildExited`, `Unresponsive`); only for idempotent functions, not for streams |
///
/// ```ignore
/// // Compiled as a doctest on `snake::actor`, where the macro is usable.
/// #[snake::actor(module = "inference")]
/// pub trait Inference {
///     /// Predicts a label.
///     async fn predict(request: Predict) -> Prediction;
///     fn tokenize(text: String) -> Vec<String>;
///     #[snake(python = "stream_tokens")]
///     fn stream(prompt: String) -> snake::Stream<String>;
/// }
/// ```
#[proc_macro_attribute]
pub fn actor(args: TokenStream, item: TokenStream) -> TokenStream {
    actor::expand(args.into(), item.into()).into()
}

/// Makes async Rust functions callable from the Python code of every `#[snake::actor]` child,
/// as `snake_callbacks.name(arg)` (blocking) and `await snake_callbacks.name_async(arg)`.
///
/// On an `async fn name(arg: Arg) -> Reply` it registers the function; on an inherent
/// `impl State { ... }` block it registers every `async fn name(&self, arg: Arg) -> Reply`, whose
/// `&self` is the value given to the child with `PythonChildProcessBuilder::provide(state)` (a
/// child without one answers `snake.CallbackError`). The item is kept as written and stays
/// callable from Rust. Methods without a receiver and non-async methods of the block are left
/// alone; `#[snake(skip)]` leaves an `async fn(&self, ..)` alone too.
///
/// The return type is the reply, or `Result<Reply, E>` with `E: Into<snake::CallbackError>`
/// (every `std::error::Error` converts): an `Err` raises `snake.CallbackError` in Python. The
/// choice is syntactic, on the last path segment `Result` (`Result<R>` aliases such as
/// `std::io::Result<R>` count too); to send a Rust `Result` to Python as a value, wrap it in a
/// message type. The argument and the reply are `snake::PyMessage`s. Callbacks are global to
/// the binary and identified by name: give each a distinct one.
///
/// | option | where | default | meaning |
/// |---|---|---|---|
/// | `name = "python_name"` | `#[snake::callback(...)]` on a function | the function name | the Python name |
/// | `crate = path` | `#[snake::callback(...)]` | `::snake` | where the `snake` crate is, if renamed |
/// | `name = "python_name"` | `#[snake(...)]` on a method | the method name | the Python name |
/// | `skip` | `#[snake(...)]` on a method | | not a callback |
///
/// ```ignore
/// // Compiled as a doctest on `snake::callback`, where the macro is usable.
/// #[snake::callback]
/// async fn double(n: i64) -> i64 {
///     n * 2
/// }
///
/// struct Db(std::sync::Mutex<Vec<String>>);
///
/// #[snake::callback]
/// impl Db {
///     async fn save(&self, line: String) -> Result<usize, snake::CallbackError> {
///         let mut lines = self.0.lock().map_err(|_| snake::CallbackError::new("poisoned"))?;
///         lines.push(line);
///         Ok(lines.len())
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn callback(args: TokenStream, item: TokenStream) -> TokenStream {
    callback::expand(args.into(), item.into()).into()
}
