//! Callbacks from Python into Rust: typed values both ways, concurrency, errors, re-entrancy.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use kameo::actor::ActorRef;
use libtest_mimic::Trial;
use snake::{CallbackError, CallbackHandler, PythonActor, PythonChildProcessBuilder, PythonExecutionError};
use tokio::sync::Notify;

use crate::common::{config, handler_error, in_a_memfd, trial};
use crate::messages::*;

pub fn trials() -> Vec<Trial> {
    vec![
        trial("callbacks::sync_handler_gets_typed_nested_reply", || lookup("lookup_sync")),
        trial("callbacks::async_handler_gets_typed_nested_reply", || lookup("lookup_async")),
        trial("callbacks::thousand_concurrent_callbacks_are_matched", thousand_concurrent),
        trial("callbacks::rust_error_reaches_python_and_comes_back", rust_error_round_trip),
        trial("callbacks::python_may_catch_and_wrap_the_callback_error", python_wraps_error),
        trial("callbacks::reentrant_async_calls_do_not_deadlock", || reentrancy("reenter_async", 5)),
        trial("callbacks::reentrant_sync_calls_do_not_deadlock", || reentrancy("reenter_sync", 3)),
        trial("callbacks::sync_handler_blocked_in_a_callback_releases_the_gil", blocked_sync_releases_gil),
        trial("callbacks::callback_after_the_call_timed_out_fails_cleanly", late_callback),
        trial("callbacks::sync_handler_waiting_on_a_callback_is_woken_by_its_cancel", cancel_wakes_blocked_callback),
        trial("callbacks::actor_without_callbacks_raises_instead_of_hanging", no_callbacks),
        trial("callbacks::stream_answer_consumed_with_async_for", || stream_back("stream_async", 300)),
        trial("callbacks::stream_answer_consumed_with_for", || stream_back("stream_sync", 300)),
        trial("callbacks::stream_answer_error_mid_stream", stream_back_error),
        trial("callbacks::stream_answer_dropped_when_python_stops", stream_back_dropped),
        trial("callbacks::a_large_argument_is_read_in_place_from_shared_memory", large_argument),
        trial("callbacks::large_stream_items_are_written_into_the_arena", large_stream_items),
    ]
}

/// The parent-side state callbacks use; clones share it.
#[derive(Clone, Default)]
pub struct Service {
    reenter: Arc<OnceLock<ActorRef<PythonActor<Reenter, Cb>>>>,
    entered: Arc<Notify>,
    open: Arc<Notify>,
    calls: Arc<AtomicUsize>,
    streams_dropped: Arc<AtomicUsize>,
}

/// Counts streams dropped by the runtime, to see cancellation reach Rust.
struct DropMark(Arc<AtomicUsize>);

impl Drop for DropMark {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CallbackHandler<Cb> for Service {
    async fn handle(&mut self, msg: Cb) -> Result<CbReply, CallbackError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match msg {
            Cb::Lookup { query } => {
                let _span = tracing::info_span!("rust.lookup").entered();
                Ok(CbReply::Answer(answer_for(&query)))
            }
            Cb::Echo { key } => {
                // Scramble completion order so that matching by id is what makes replies right.
                let jitter = key.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % 3000;
                tokio::time::sleep(Duration::from_micros(jitter)).await;
                Ok(CbReply::Text(format!("echo:{key}")))
            }
            Cb::Fail { message } => Err(CallbackError::new(message)),
            Cb::Reenter { depth } => {
                let actor = self.reenter.get().ok_or_else(|| CallbackError::new("no actor to re-enter"))?;
                let depths =
                    actor.ask(Reenter { depth: depth - 1 }).await.map_err(|e| CallbackError::new(e.to_string()))?;
                Ok(CbReply::Depths(depths))
            }
            Cb::Wait {} => {
                self.entered.notify_one();
                self.open.notified().await;
                Ok(CbReply::Text("opened".into()))
            }
            Cb::Count { .. } | Cb::Chunks { .. } => Err(CallbackError::new("only answered as a stream")),
            Cb::Measure { data } => Ok(CbReply::Text(format!(
                "{} bytes of {:?}, in shared memory: {}",
                data.len(),
                data.iter().copied().max(),
                in_a_memfd(data.as_ptr())
            ))),
        }
    }

    async fn handle_stream(&mut self, msg: Cb) -> Result<snake::CallbackStream<CbReply>, CallbackError> {
        let (n, fail_at) = match msg {
            Cb::Count { n, fail_at } => (n, fail_at),
            Cb::Chunks { n, size } => {
                let chunks =
                    (0..n).map(move |i| Ok(CbReply::Data(snake::SharedBytes::from(vec![i as u8; size as usize]))));
                return Ok(Box::pin(futures_util::stream::iter(chunks)));
            }
            _ => return Err(CallbackError::new("only `Count` and `Chunks` stream")),
        };
        let mark = DropMark(Arc::clone(&self.streams_dropped));
        let items = futures_util::stream::unfold((0u64, mark), move |(i, mark)| async move {
            if i == n {
                return None;
            }
            let item = if Some(i) == fail_at {
                Err(CallbackError::new(format!("failed at {i}")))
            } else {
                Ok(CbReply::Text(format!("item {i}")))
            };
            Some((item, (i + 1, mark)))
        });
        Ok(Box::pin(items))
    }
}

pub fn answer_for(query: &Query) -> Answer {
    let mut path = vec![query.key.clone()];
    let mut next = query.nested.as_deref();
    while let Some(q) = next {
        path.push(q.key.clone());
        next = q.nested.as_deref();
    }
    Answer {
        key: query.key.to_uppercase(),
        score: f64::from(query.depth) * 1.5 + query.weights.values().sum::<f64>(),
        path,
        counts: query.tags.iter().map(|t| (t.clone(), t.len() as i64 - 3)).collect(),
        flags: (query.nested.is_some(), query.tags.first().map(|t| t.len() as u8)),
    }
}

pub fn builder(module: &str, function: &str, service: Service) -> snake::PythonChildProcessBuilder<Cb, Service> {
    PythonChildProcessBuilder::new(config(module, function)).with_callback_handler(service)
}

async fn lookup(function: &'static str) {
    let actor = builder("callbacks", function, Service::default()).spawn::<Query>().await.expect("spawn");
    let query = Query {
        key: "outer".into(),
        depth: 7,
        tags: vec!["alpha".into(), "βeta".into(), String::new()],
        nested: Some(Box::new(Query {
            key: "inner".into(),
            depth: 0,
            tags: vec![],
            nested: Some(Box::new(Query {
                key: "core".into(),
                depth: 1,
                tags: vec![],
                nested: None,
                weights: BTreeMap::new(),
            })),
            weights: BTreeMap::from([("w".to_owned(), -2.0)]),
        })),
        weights: BTreeMap::from([("a".to_owned(), 0.25), ("b".to_owned(), 1e-3)]),
    };
    let reply = actor.ask(query.clone()).await.expect("lookup");
    let CbReply::Answer(answer) = reply else { panic!("{reply:?}") };
    assert_eq!(answer.key, "OUTER");
    assert_eq!(answer.score, 7.0 * 1.5 + 0.25 + 1e-3);
    assert_eq!(answer.path, vec!["outer", "inner", "core"]);
    assert_eq!(answer.counts, BTreeMap::from([("alpha".to_owned(), 2), ("βeta".to_owned(), 2), (String::new(), -3)]));
    assert_eq!(answer.flags, (true, Some(5)));
    assert_eq!(answer, answer_for(&query));
}

async fn thousand_concurrent() {
    let service = Service::default();
    let calls = Arc::clone(&service.calls);
    let actor = builder("callbacks", "fan_out", service).spawn::<FanOut>().await.expect("spawn");
    let mut asks: FuturesUnordered<_> = (0..100u64)
        .map(|id| {
            let actor = actor.clone();
            async move { (id, actor.ask(FanOut { id }).await) }
        })
        .collect();
    let mut handlers = 0;
    while let Some((id, reply)) = asks.next().await {
        let reply = reply.expect("fan out");
        assert_eq!(reply.len(), 10);
        for (i, fanned) in reply.iter().enumerate() {
            let key = format!("{id}-{i}");
            assert_eq!(fanned.answer, format!("echo:{key}"));
            assert_eq!(fanned.key, key);
        }
        handlers += 1;
    }
    assert_eq!(handlers, 100);
    assert_eq!(calls.load(Ordering::Relaxed), 1_000);
}

async fn rust_error_round_trip() {
    let actor = builder("callbacks", "fail", Service::default()).spawn::<FailWith>().await.expect("spawn");
    let err = handler_error(actor.ask(FailWith { text: "database is down".into() }).await);
    let PythonExecutionError::Exception(exception) = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "snake.CallbackError");
    assert_eq!(exception.message, "database is down");
    assert!(exception.traceback.contains("in fail"), "{}", exception.traceback);
}

async fn python_wraps_error() {
    let actor = builder("callbacks", "fail_and_wrap", Service::default()).spawn::<FailWith>().await.expect("spawn");
    let err = handler_error(actor.ask(FailWith { text: "quota exceeded".into() }).await);
    let PythonExecutionError::Exception(exception) = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "RuntimeError");
    assert_eq!(exception.message, "wrapped: quota exceeded");
    assert!(exception.traceback.contains("snake.CallbackError: quota exceeded"), "{}", exception.traceback);
}

async fn reentrancy(function: &'static str, depth: u32) {
    let service = Service::default();
    let slot = Arc::clone(&service.reenter);
    let actor =
        builder("callbacks", function, service).sync_workers(depth as u16 + 1).spawn::<Reenter>().await.expect("spawn");
    slot.set(actor.clone()).expect("set once");
    let depths = tokio::time::timeout(Duration::from_secs(20), actor.ask(Reenter { depth }))
        .await
        .expect("no deadlock")
        .expect("reenter");
    assert_eq!(depths, (0..=depth).rev().collect::<Vec<_>>());
}

async fn blocked_sync_releases_gil() {
    let service = Service::default();
    let (entered, open) = (Arc::clone(&service.entered), Arc::clone(&service.open));
    let actor = builder("callbacks", "gate", service).sync_workers(2).spawn::<GateMsg>().await.expect("spawn");
    let blocked = tokio::spawn({
        let actor = actor.clone();
        async move { actor.ask(GateMsg { wait: true }).await }
    });
    entered.notified().await;
    for _ in 0..10 {
        let quick = tokio::time::timeout(Duration::from_secs(5), actor.ask(GateMsg { wait: false })).await;
        assert_eq!(quick.expect("answered while the other handler waits").expect("quick"), "quick");
    }
    assert!(!blocked.is_finished(), "the blocked handler is still waiting for its callback");
    open.notify_one();
    assert_eq!(blocked.await.expect("task").expect("gate"), "opened");
}

async fn late_callback() {
    let actor = builder("callbacks", "late", Service::default())
        .call_timeout(Duration::from_millis(200))
        .spawn::<Late>()
        .await
        .expect("spawn");
    let err = handler_error(actor.ask(Late { report: false, sleep: 0.6 }).await);
    assert!(matches!(err, PythonExecutionError::CallTimedOut { .. }), "{err:?}");
    let mut outcome = Vec::new();
    for _ in 0..100 {
        outcome = actor.ask(Late { report: true, sleep: 0.0 }).await.expect("report");
        if !outcome.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(outcome, vec!["the call that made this callback was cancelled or timed out".to_owned()]);
}

async fn cancel_wakes_blocked_callback() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let service = Service::default();
    let entered = Arc::clone(&service.entered);
    // One worker: were it left waiting on the callback, it would be given up on a second after the
    // cancel, and with it (the only one) the child.
    let actor = builder("callbacks", "gate", service)
        .sync_workers(1)
        .call_timeout(TIMEOUT)
        .spawn::<GateMsg>()
        .await
        .expect("spawn");
    let blocked = tokio::spawn({
        let actor = actor.clone();
        async move { actor.ask(GateMsg { wait: true }).await }
    });
    entered.notified().await;
    let err = handler_error(blocked.await.expect("task"));
    assert_eq!(err, PythonExecutionError::CallTimedOut { timeout: TIMEOUT });
    let started = Instant::now();
    let quick = tokio::time::timeout(Duration::from_secs(5), actor.ask(GateMsg { wait: false })).await;
    assert_eq!(quick.expect("no hang").expect("the worker is free again"), "quick");
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let quick = tokio::time::timeout(Duration::from_secs(5), actor.ask(GateMsg { wait: false })).await;
    assert_eq!(quick.expect("no hang").expect("the same child, its worker never lost"), "quick");
}

async fn no_callbacks() {
    let actor =
        PythonChildProcessBuilder::new(config("callbacks", "no_callbacks")).spawn::<NoCb>().await.expect("spawn");
    assert_eq!(actor.ask(NoCb).await.expect("no callbacks"), "this actor declares no callbacks");
}

async fn stream_back(function: &'static str, n: u64) {
    let actor = builder("callbacks", function, Service::default()).spawn::<StreamBack>().await.expect("spawn");
    let items = actor.ask(StreamBack { n }).await.expect("stream");
    assert_eq!(items, (0..n).map(|i| format!("item {i}")).collect::<Vec<_>>());
}

async fn stream_back_error() {
    let actor = builder("callbacks", "stream_failing", Service::default()).spawn::<StreamBack>().await.expect("spawn");
    let items = actor.ask(StreamBack { n: 10 }).await.expect("stream");
    let mut expected: Vec<String> = (0..5).map(|i| format!("item {i}")).collect();
    expected.push("error: failed at 5".into());
    assert_eq!(items, expected);
}

async fn stream_back_dropped() {
    let service = Service::default();
    let dropped = Arc::clone(&service.streams_dropped);
    let actor = builder("callbacks", "stream_partial", service).spawn::<StreamBack>().await.expect("spawn");
    let items = actor.ask(StreamBack { n: 3 }).await.expect("stream");
    assert_eq!(items, vec!["item 0", "item 1", "item 2"]);
    for _ in 0..250 {
        if dropped.load(Ordering::SeqCst) == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the Rust stream of a million items was not dropped when Python stopped consuming it");
}

/// A large `SharedBytes` in a low-level callback's argument crosses in shared memory and the
/// handler reads it there; a small one crosses the socket.
async fn large_argument() {
    let actor = builder("callbacks", "measure", Service::default()).spawn::<MeasureCb>().await.expect("spawn");
    let large = actor.ask(MeasureCb { size: 1 << 20 }).await.expect("large");
    assert_eq!(large, CbReply::Text("1048576 bytes of Some(9), in shared memory: true".into()));
    let small = actor.ask(MeasureCb { size: 10 }).await.expect("small");
    assert_eq!(small, CbReply::Text("10 bytes of Some(9), in shared memory: false".into()));
}

/// The items of a streaming callback are encoded straight into the parent's arena: Python gets
/// each as a view there, aligned.
async fn large_stream_items() {
    let actor = builder("callbacks", "chunks", Service::default()).spawn::<StreamBack>().await.expect("spawn");
    let items = actor.ask(StreamBack { n: 3 }).await.expect("stream");
    assert_eq!(items, ["1048576 of 0, aligned", "1048576 of 1, aligned", "1048576 of 2, aligned"]);
}
