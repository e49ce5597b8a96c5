//! `#[snake::actor]` and `#[snake::callback]` end to end: the real macros, a real child running
//! `tests/python/macro_actor.py`.

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};
use snake::schema::{Declarations, Type};
use snake::{CallbackError, GetChildInfo, HandlerMode, PythonChildProcessBuilder, PythonConfig, PythonExecutionError};

use crate::common::{python_dir, trial};

pub fn trials() -> Vec<Trial> {
    vec![
        trial("macros::sync_and_async_methods_return_values", plain_and_async),
        trial("macros::generator_and_async_generator_methods_stream", generators),
        trial("macros::unit_request_and_reply", unit),
        trial("macros::free_callback_in_both_spellings", free_callback),
        trial("macros::method_callback_uses_provided_state", method_callback),
        trial("macros::method_callback_without_state_raises", missing_state),
        trial("macros::handle_is_a_kameo_actor", kameo_actor),
        trial("macros::declared_kind_must_match_python", kind_mismatch),
        trial("macros::declarations_describe_the_actor_and_callbacks", declarations),
        trial("macros::reply_with_an_unknown_key_is_refused", unknown_key),
        trial("macros::allow_unknown_keys_accepts_them", allowed_unknown_keys),
    ]
}

/// Who to greet, how many times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Greeting {
    pub name: String,
    pub times: u32,
}

/// A greeting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Greeted {
    pub text: String,
    pub length: u64,
}

/// One generated item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Tick {
    pub index: u32,
    pub square: u64,
}

/// Every kind of Python function, and calls back into Rust.
#[snake::actor(module = "macro_actor")]
pub trait MacroActor {
    /// A plain `def`.
    fn greet(request: Greeting) -> Greeted;
    /// An `async def`.
    async fn greet_async(request: Greeting) -> Greeted;
    /// A generator.
    fn ticks(count: u32) -> snake::Stream<Tick>;
    /// An async generator, under another Python name.
    #[snake(python = "async_ticks")]
    async fn ticks_async(count: u32) -> snake::Stream<Tick>;
    /// Calls `macro_scale` with the blocking spelling.
    fn scale_sync(n: i64) -> i64;
    /// Calls `macro_scale` with the async spelling.
    async fn scale_async(n: i64) -> i64;
    /// Calls `macro_tally`, which needs a provided `Tally`.
    async fn tally(n: u64) -> u64;
    /// `None` both ways.
    fn nothing(request: ()) -> ();
}

/// A catalogue entry; `catalogue.py` misspells `price` on purpose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct CatalogueItem {
    pub name: String,
    pub price: Option<f64>,
}

/// An entry that Python may annotate with keys of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
#[snake(allow_unknown_keys)]
pub struct Annotated {
    pub name: String,
}

/// A shape, whose struct variant refuses unknown keys too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub enum Outline {
    Circle { radius: f64 },
}

/// Replies with keys the Rust types do not have.
#[snake::actor(module = "catalogue")]
pub trait Catalogue {
    /// `{"name": .., "prise": ..}`.
    fn misspelled(name: String) -> CatalogueItem;
    /// `{"name": .., "price": ..}`.
    fn spelled(name: String) -> CatalogueItem;
    /// `{"name": .., "note": ..}`.
    fn annotated(name: String) -> Annotated;
    /// `{"Circle": {"radius": .., "r": ..}}`.
    fn outline(radius: f64) -> Outline;
}

/// The same module, declared with the wrong kind for `greet`.
#[snake::actor(module = "macro_actor")]
pub trait Mismatched {
    async fn greet(request: Greeting) -> Greeted;
}

/// Triples a number.
#[snake::callback(name = "macro_scale")]
async fn scale(n: i64) -> i64 {
    n * 3
}

/// A running total, provided to the child.
#[derive(Default)]
pub struct Tally {
    total: AtomicU64,
}

#[snake::callback]
impl Tally {
    /// Adds `by` to the total; zero is refused.
    async fn macro_tally(&self, by: u64) -> Result<u64, CallbackError> {
        if by == 0 {
            return Err(CallbackError::new("tally by zero"));
        }
        Ok(self.total.fetch_add(by, Ordering::SeqCst) + by)
    }
}

fn builder() -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(PythonConfig {
        module_path: python_dir().display().to_string(),
        ..Default::default()
    })
}

fn exception(err: &PythonExecutionError) -> &snake::PythonException {
    match err {
        PythonExecutionError::Exception(exception) => exception,
        other => panic!("expected a Python exception, got {other:?}"),
    }
}

async fn plain_and_async() {
    let actor = MacroActor::spawn(builder()).await.expect("spawn");
    let greeted = actor.greet(Greeting { name: "ada".into(), times: 2 }).await.expect("greet");
    assert_eq!(greeted, Greeted { text: "hello ada, hello ada".into(), length: 20 });
    let greeted = actor.greet_async(Greeting { name: "bob".into(), times: 7 }).await.expect("greet_async");
    assert_eq!(greeted, Greeted { text: "hi bob".into(), length: 7 });
    // Clones share the child and call concurrently.
    let calls = (0..20u32).map(|times| {
        let actor = actor.clone();
        async move { actor.greet_async(Greeting { name: "c".into(), times }).await.expect("call").length }
    });
    let lengths = futures_util::future::join_all(calls).await;
    assert_eq!(lengths, (0..20u64).collect::<Vec<_>>());
}

async fn generators() {
    let actor = MacroActor::spawn(builder()).await.expect("spawn");
    let expected: Vec<Tick> = (0..50).map(|i| Tick { index: i, square: u64::from(i * i) }).collect();
    let items: Vec<Tick> = actor.ticks(50).await.expect("open").map(|item| item.expect("item")).collect().await;
    assert_eq!(items, expected);
    let items: Vec<Tick> = actor.ticks_async(50).await.expect("open").map(|item| item.expect("item")).collect().await;
    assert_eq!(items, expected);
    let empty: Vec<_> = actor.ticks(0).await.expect("open").collect().await;
    assert!(empty.is_empty());
}

async fn unit() {
    let actor = MacroActor::spawn(builder()).await.expect("spawn");
    actor.nothing(()).await.expect("None both ways");
}

async fn free_callback() {
    let actor = MacroActor::spawn(builder()).await.expect("spawn");
    assert_eq!(actor.scale_sync(14).await.expect("blocking spelling"), 42);
    assert_eq!(actor.scale_async(-5).await.expect("async spelling"), -15);
    // Still an ordinary Rust function.
    assert_eq!(scale(2).await, 6);
}

async fn method_callback() {
    let actor = MacroActor::spawn(builder().provide(Tally::default())).await.expect("spawn");
    assert_eq!(actor.tally(5).await.expect("tally"), 5);
    assert_eq!(actor.tally(7).await.expect("tally"), 12);
    let err = actor.tally(0).await.expect_err("zero is refused");
    let exception = exception(&err);
    assert_eq!(exception.type_name, "snake.CallbackError");
    assert_eq!(exception.message, "tally by zero");
    assert_eq!(actor.tally(1).await.expect("still usable"), 13);
}

async fn missing_state() {
    let actor = MacroActor::spawn(builder()).await.expect("spawn");
    let err = actor.tally(1).await.expect_err("no state");
    let exception = exception(&err);
    assert_eq!(exception.type_name, "snake.CallbackError");
    assert!(exception.message.contains("no `integration::macros::Tally` was provided"), "{}", exception.message);
}

async fn kameo_actor() {
    let actor = MacroActor::spawn(builder()).await.expect("spawn");
    let actor_ref = actor.actor_ref().expect("a spawned handle has a local actor").clone();
    assert!(actor_ref.is_alive());
    let info = actor_ref.ask(GetChildInfo).await.expect("child info");
    assert!(info.pid > 0);
    assert!(format!("{actor:?}").contains("macro_actor"));
    actor_ref.stop_gracefully().await.expect("stop");
    actor_ref.wait_for_shutdown().await;
    let err = actor.greet(Greeting { name: "x".into(), times: 1 }).await.expect_err("stopped");
    assert!(matches!(err, PythonExecutionError::ActorStopped), "{err:?}");
}

async fn kind_mismatch() {
    let err = Mismatched::spawn(builder()).await.expect_err("greet is a plain def");
    let PythonExecutionError::HandlerMismatch { module, function, declared, actual } = err else {
        panic!("expected a handler mismatch, got {err:?}")
    };
    assert_eq!((module.as_str(), function.as_str()), ("macro_actor", "greet"));
    assert_eq!((declared, actual), (HandlerMode::Async, HandlerMode::Sync));
}

async fn declarations() {
    let declarations = Declarations::collect();
    let actor = declarations.actors.iter().find(|a| a.name == "MacroActor").expect("declared");
    assert_eq!(actor.module, "macro_actor");
    assert_eq!(actor.docs, "Every kind of Python function, and calls back into Rust.");
    let methods: Vec<(&str, HandlerMode)> = actor.methods.iter().map(|m| (m.python_name.as_str(), m.mode)).collect();
    assert_eq!(
        methods,
        [
            ("greet", HandlerMode::Sync),
            ("greet_async", HandlerMode::Async),
            ("ticks", HandlerMode::Generator),
            ("async_ticks", HandlerMode::AsyncGenerator),
            ("scale_sync", HandlerMode::Sync),
            ("scale_async", HandlerMode::Async),
            ("tally", HandlerMode::Async),
            ("nothing", HandlerMode::Sync),
        ]
    );
    assert_eq!(actor.methods[2].reply, Type::Named("Tick".into()));
    let tally = declarations.callbacks.iter().find(|c| c.name == "macro_tally").expect("declared");
    assert_eq!((&tally.arg, &tally.reply), (&Type::int(false, 64), &Type::int(false, 64)));
    assert_eq!(tally.docs, "Adds `by` to the total; zero is refused.");
    assert!(declarations.callbacks.iter().any(|c| c.name == "macro_scale"));
}

async fn unknown_key() {
    let actor = Catalogue::spawn(builder()).await.expect("spawn");
    let item = actor.spelled("pen".into()).await.expect("spelled");
    assert_eq!(item, CatalogueItem { name: "pen".into(), price: Some(2.5) });
    let err = actor.misspelled("pen".into()).await.expect_err("prise is no key of CatalogueItem");
    let PythonExecutionError::Conversion { direction, error } = &err else { panic!("{err:?}") };
    assert_eq!(*direction, snake::ConversionDirection::Reply);
    assert_eq!(error.to_string(), "reply: unknown key `prise` (expected one of `name`, `price`)");
    let err = actor.outline(1.0).await.expect_err("r is no key of Circle");
    let PythonExecutionError::Conversion { error, .. } = &err else { panic!("{err:?}") };
    assert_eq!(error.to_string(), "reply.Circle: unknown key `r` (expected `radius`)");
    // The child is still serving.
    assert_eq!(actor.spelled("ink".into()).await.expect("spelled").name, "ink");
}

async fn allowed_unknown_keys() {
    let actor = Catalogue::spawn(builder()).await.expect("spawn");
    assert_eq!(actor.annotated("pen".into()).await.expect("annotated"), Annotated { name: "pen".into() });
}
