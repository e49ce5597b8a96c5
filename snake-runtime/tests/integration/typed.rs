//! The multi-method actor and named-callback runtime API, used exactly as `#[snake::actor]` and
//! `#[snake::callback]` expand; this is the contract the macros generate against.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use kameo::actor::ActorRef;
use libtest_mimic::Trial;
use snake::__private::{
    ActorSpec, CallbackCodec, CallbackFn, ChildEntry, HandlerMode, MethodCall, MethodCodec, MethodSpec, MethodStream,
    run_callback,
};
use snake::{CallbackError, PythonActor, PythonChildProcessBuilder, PythonConfig, PythonExecutionError, ReplyStream};

use crate::common::{python_dir, trial};
use crate::messages::*;

pub fn trials() -> Vec<Trial> {
    vec![
        trial("typed::slow_sync_method_does_not_hold_up_a_fast_async_one", slow_sync_and_fast_async),
        trial("typed::generator_method_streams", generator_method),
        trial("typed::named_callbacks_in_both_spellings", named_callbacks),
        trial("typed::callback_method_uses_provided_state", callback_state),
        trial("typed::missing_state_is_a_python_exception", missing_state),
        trial("typed::blocking_spelling_on_the_loop_is_refused", wrong_spelling),
    ]
}

/// The marker type the actor macro generates.
pub struct MixedActor;

impl ActorSpec for MixedActor {
    const KEY: &'static str = concat!(module_path!(), "::Mixed");
    const MODULE: &'static str = "mixed";

    fn methods() -> Vec<MethodSpec> {
        let method = |function: &str, mode| MethodSpec {
            function: function.into(),
            mode: Some(mode),
            request_type: None,
            reply_type: None,
            needs_numpy: false,
        };
        vec![
            method("slow_sync", HandlerMode::Sync),
            method("fast_async", HandlerMode::Async),
            method("ticks", HandlerMode::Generator),
            method("double_async", HandlerMode::Async),
            method("double_sync", HandlerMode::Sync),
            method("bump", HandlerMode::Sync),
            method("wrong_spelling", HandlerMode::Async),
        ]
    }

    fn codecs() -> Vec<MethodCodec> {
        vec![
            MethodCodec::of::<Work, WorkReply>(),
            MethodCodec::of::<Work, WorkReply>(),
            MethodCodec::of::<Count, StreamItem>(),
            MethodCodec::of::<Number, i64>(),
            MethodCodec::of::<Number, i64>(),
            MethodCodec::of::<Number, u64>(),
            MethodCodec::of::<Number, i64>(),
        ]
    }

    fn fingerprint() -> u64 {
        snake::__private::fingerprint(&["mixed", "v1"])
    }
}

snake::__private::inventory::submit! { ChildEntry::typed::<MixedActor>() }

/// The typed handle the actor macro generates.
#[derive(Clone)]
pub struct Mixed {
    actor: ActorRef<PythonActor<MixedActor>>,
}

impl Mixed {
    pub async fn spawn(builder: PythonChildProcessBuilder) -> Result<Self, PythonExecutionError> {
        Ok(Self { actor: builder.spawn_actor::<MixedActor>(false).await? })
    }

    pub async fn slow_sync(&self, request: Work) -> Result<WorkReply, PythonExecutionError> {
        Ok(self.actor.ask(MethodCall::new(0, request)).await?)
    }

    pub async fn fast_async(&self, request: Work) -> Result<WorkReply, PythonExecutionError> {
        Ok(self.actor.ask(MethodCall::new(1, request)).await?)
    }

    pub async fn ticks(&self, request: Count) -> Result<ReplyStream<StreamItem>, PythonExecutionError> {
        Ok(self.actor.ask(MethodStream::new(2, request)).await?)
    }

    pub async fn double_async(&self, request: Number) -> Result<i64, PythonExecutionError> {
        Ok(self.actor.ask(MethodCall::new(3, request)).await?)
    }

    pub async fn double_sync(&self, request: Number) -> Result<i64, PythonExecutionError> {
        Ok(self.actor.ask(MethodCall::new(4, request)).await?)
    }

    pub async fn bump(&self, request: Number) -> Result<u64, PythonExecutionError> {
        Ok(self.actor.ask(MethodCall::new(5, request)).await?)
    }

    pub async fn wrong_spelling(&self, request: Number) -> Result<i64, PythonExecutionError> {
        Ok(self.actor.ask(MethodCall::new(6, request)).await?)
    }
}

/// A free-function callback, as `#[snake::callback] async fn double(n: i64) -> i64` expands.
async fn double(n: i64) -> i64 {
    n * 2
}

fn double_name() -> &'static str {
    "double"
}

snake::__private::inventory::submit! {
    CallbackFn {
        name: "double",
        codec: CallbackCodec::of::<i64, i64>(double_name),
        call: |_states, arg| run_callback("double", &arg, |n: i64| async move { Ok::<_, CallbackError>(double(n).await) }),
    }
}

/// Callback state, as `#[snake::callback] impl Counter { async fn bump(&self, ..) }` expands.
#[derive(Default)]
pub struct Counter {
    total: AtomicU64,
}

impl Counter {
    async fn bump(&self, by: u64) -> Result<u64, CallbackError> {
        if by == 0 {
            return Err(CallbackError::new("bump by zero"));
        }
        Ok(self.total.fetch_add(by, Ordering::SeqCst) + by)
    }
}

fn bump_name() -> &'static str {
    "bump"
}

snake::__private::inventory::submit! {
    CallbackFn {
        name: "bump",
        codec: CallbackCodec::of::<u64, u64>(bump_name),
        call: |states, arg| {
            let state = states.get::<Counter>("bump");
            run_callback("bump", &arg, move |by: u64| async move { state?.bump(by).await })
        },
    }
}

fn builder() -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(PythonConfig {
        module_path: python_dir().display().to_string(),
        ..Default::default()
    })
}

async fn slow_sync_and_fast_async() {
    let mixed = Mixed::spawn(builder()).await.expect("spawn");
    let slow = tokio::spawn({
        let mixed = mixed.clone();
        async move { mixed.slow_sync(Work { id: 1, slow: true, seconds: 1.0 }).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    for id in 0..50 {
        let reply =
            tokio::time::timeout(Duration::from_secs(5), mixed.fast_async(Work { id, slow: false, seconds: 0.0 }))
                .await
                .expect("answered while the sync handler runs")
                .expect("fast");
        assert_eq!(reply.id, id);
    }
    assert!(!slow.is_finished(), "the slow sync handler is still running");
    assert_eq!(slow.await.expect("task").expect("slow").id, 1);
}

async fn generator_method() {
    let mixed = Mixed::spawn(builder()).await.expect("spawn");
    let items: Vec<u64> =
        mixed.ticks(Count { n: 500 }).await.expect("open").map(|i| i.expect("item").index).collect().await;
    assert_eq!(items, (0..500).collect::<Vec<_>>());
}

async fn named_callbacks() {
    let mixed = Mixed::spawn(builder()).await.expect("spawn");
    assert_eq!(mixed.double_async(Number { n: 21 }).await.expect("async spelling"), 42);
    assert_eq!(mixed.double_sync(Number { n: -4 }).await.expect("blocking spelling"), -8);
}

async fn callback_state() {
    let counter = Counter::default();
    let mixed = Mixed::spawn(builder().provide(counter)).await.expect("spawn");
    assert_eq!(mixed.bump(Number { n: 5 }).await.expect("bump"), 5);
    assert_eq!(mixed.bump(Number { n: 7 }).await.expect("bump"), 12);
    let err = mixed.bump(Number { n: 0 }).await.expect_err("zero");
    let PythonExecutionError::Exception(exception) = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "snake.CallbackError");
    assert_eq!(exception.message, "bump by zero");
}

async fn missing_state() {
    let mixed = Mixed::spawn(builder()).await.expect("spawn");
    let err = mixed.bump(Number { n: 1 }).await.expect_err("no state");
    let PythonExecutionError::Exception(exception) = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "snake.CallbackError");
    assert!(exception.message.contains("no `integration::typed::Counter` was provided"), "{}", exception.message);
}

async fn wrong_spelling() {
    let mixed = Mixed::spawn(builder()).await.expect("spawn");
    let err = mixed.wrong_spelling(Number { n: 1 }).await.expect_err("refused");
    let PythonExecutionError::Exception(exception) = &err else { panic!("{err:?}") };
    assert_eq!(
        exception.message,
        "`double(..)` would block the event loop: use `await double_async(..)` in async handlers"
    );
}
