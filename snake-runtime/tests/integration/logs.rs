//! Python `logging` records and warnings arrive in the parent as `tracing` events.
//!
//! Each trial runs on a current-thread runtime with a thread-local subscriber: the connection's
//! reader task, which emits the events, runs on that same thread, so every event of the trial is
//! captured and none of another trial's.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use libtest_mimic::{Failed, Trial};
use serde::{Deserialize, Serialize};
use snake::{ChildMessage, GetChildInfo, PythonActor, PythonChildProcessBuilder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::common::{config, python_dir};

pub fn trials() -> Vec<Trial> {
    vec![
        logged("logs::info_record_arrives_as_an_info_event", info_record),
        logged("logs::async_handler_records_arrive", async_handler_record),
        logged("logs::records_are_attached_to_the_call_they_came_from", records_carry_their_call),
        logged("logs::levels_map_and_debug_is_filtered_at_info", levels_at_info),
        logged("logs::debug_arrives_at_log_level_debug", levels_at_debug),
        logged("logs::logged_exception_carries_the_traceback", logged_exception),
        logged("logs::warning_arrives_as_a_warn_event", warning),
        logged("logs::users_own_handler_still_receives_records", users_own_handler),
        logged("logs::burst_of_ten_thousand_records_all_arrive_with_the_reply", burst),
        logged("logs::burst_below_the_level_sends_nothing", burst_below_level),
        logged("logs::logging_is_imported_only_by_the_module_that_logs", late_logging),
    ]
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogOp {
    pub op: String,
    pub n: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogReply {
    pub pid: u32,
    pub n: u32,
    pub captured: Vec<String>,
}

impl ChildMessage for LogOp {
    type Reply = LogReply;
}
snake::register_actor!(LogOp);

/// One captured `tracing` event of target `snake::python`.
#[derive(Clone, Debug)]
struct Captured {
    level: Level,
    message: String,
    fields: BTreeMap<String, String>,
    /// The `call_id` of the span the event is in, if any.
    call: Option<String>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// A layer that records the events of the Python logging target.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    fn events(&self) -> Vec<Captured> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn with_message(&self, message: &str) -> Vec<Captured> {
        self.events().into_iter().filter(|e| e.message == message).collect()
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// The `call_id` field of a span, kept in its extensions.
struct CallId(String);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(call), Some(span)) = (fields.0.remove("call_id"), ctx.span(id)) {
            span.extensions_mut().insert(CallId(call));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "snake::python" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        let call = ctx
            .event_span(event)
            .and_then(|span| span.scope().find_map(|s| s.extensions().get::<CallId>().map(|c| c.0.clone())));
        let captured = Captured { level: *event.metadata().level(), message, fields: fields.0, call };
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(captured);
    }
}

/// A trial on a current-thread runtime whose events go to a fresh [`Capture`].
fn logged<F, Fut>(name: &'static str, test: F) -> Trial
where
    F: FnOnce(Capture) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    Trial::test(name, move || {
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failed::from(format!("runtime: {e}")))?;
        runtime.block_on(test(capture));
        Ok(())
    })
}

pub fn builder(function: &str, level: Level) -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(config("logging_handlers", function)).log_level(level)
}

pub async fn spawn(function: &str, level: Level) -> kameo::actor::ActorRef<PythonActor<LogOp>> {
    builder(function, level).spawn::<LogOp>().await.expect("spawn")
}

pub fn op(op: &str, n: u32) -> LogOp {
    LogOp { op: op.into(), n }
}

async fn info_record(capture: Capture) {
    let actor = spawn("run", Level::INFO).await;
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    let reply = actor.ask(op("hello", 0)).await.expect("hello");
    assert_eq!(reply.pid, pid);
    let events = capture.with_message("hello 42");
    assert_eq!(events.len(), 1, "{:?}", capture.events());
    let event = &events[0];
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("logger"), Some("snake_tests.logs"));
    assert_eq!(event.field("child_pid"), Some(pid.to_string().as_str()));
    assert_eq!(event.field("actor"), Some("logging_handlers.run"));
    assert_eq!(event.field("source"), Some("logging"));
    assert!(event.field("file").is_some_and(|f| f.ends_with("logging_handlers.py")), "{event:?}");
    assert!(event.field("line").is_some_and(|l| l.parse::<u32>().is_ok_and(|l| l > 0)), "{event:?}");
    assert_eq!(event.field("exception"), None);
    assert!(event.call.is_some(), "the event is in the call's span: {event:?}");
}

async fn async_handler_record(capture: Capture) {
    let actor = spawn("run_async", Level::INFO).await;
    actor.ask(op("hello", 0)).await.expect("hello");
    let events = capture.with_message("hello 42");
    assert_eq!(events.len(), 1, "{:?}", capture.events());
    assert_eq!(events[0].level, Level::INFO);
    assert!(events[0].call.is_some(), "the task's context variable names the call: {events:?}");
}

async fn records_carry_their_call(capture: Capture) {
    let actor = spawn("run", Level::INFO).await;
    actor.ask(op("hello", 0)).await.expect("hello");
    actor.ask(op("hello", 0)).await.expect("hello");
    actor.ask(op("thread", 0)).await.expect("thread");
    let calls: Vec<Option<String>> = capture.with_message("hello 42").into_iter().map(|e| e.call).collect();
    assert_eq!(calls.len(), 2);
    assert!(calls[0].is_some() && calls[1].is_some() && calls[0] != calls[1], "{calls:?}");
    // A thread the handler starts is serving no call as far as snake knows.
    let threaded = capture.with_message("from a thread");
    assert_eq!(threaded.len(), 1);
    assert_eq!(threaded[0].call, None);
}

/// The (level, message) of every event, in order of arrival.
fn levels_and_messages(capture: &Capture) -> Vec<(Level, String)> {
    capture.events().into_iter().map(|e| (e.level, e.message)).collect()
}

async fn levels_at_info(capture: Capture) {
    let actor = spawn("run", Level::INFO).await;
    actor.ask(op("levels", 0)).await.expect("levels");
    assert_eq!(
        levels_and_messages(&capture),
        vec![
            (Level::INFO, "info line".to_owned()),
            (Level::WARN, "warning line".to_owned()),
            (Level::ERROR, "error line".to_owned()),
            (Level::ERROR, "critical line".to_owned()),
        ]
    );
}

async fn levels_at_debug(capture: Capture) {
    let actor = spawn("run", Level::DEBUG).await;
    actor.ask(op("levels", 0)).await.expect("levels");
    assert_eq!(
        levels_and_messages(&capture),
        vec![
            (Level::DEBUG, "debug line".to_owned()),
            (Level::INFO, "info line".to_owned()),
            (Level::WARN, "warning line".to_owned()),
            (Level::ERROR, "error line".to_owned()),
            (Level::ERROR, "critical line".to_owned()),
        ]
    );
}

async fn logged_exception(capture: Capture) {
    let actor = spawn("run", Level::INFO).await;
    actor.ask(op("exception", 0)).await.expect("exception");
    let events = capture.with_message("it failed");
    assert_eq!(events.len(), 1, "{:?}", capture.events());
    assert_eq!(events[0].level, Level::ERROR);
    let exception = events[0].field("exception").expect("an exception field");
    assert!(exception.starts_with("Traceback (most recent call last):"), "{exception}");
    assert!(exception.contains("raise ValueError(\"boom\")"), "{exception}");
    assert!(exception.trim_end().ends_with("ValueError: boom"), "{exception}");
}

async fn warning(capture: Capture) {
    let actor = spawn("run", Level::INFO).await;
    actor.ask(op("warn", 0)).await.expect("warn");
    let events = capture.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.level, Level::WARN);
    assert_eq!(event.field("source"), Some("warning"));
    assert_eq!(event.field("logger"), Some("py.warnings"));
    assert!(event.message.starts_with("UserWarning: careful"), "{event:?}");
    // The event points at the `warnings.warn` call, not into the `logging` module.
    let source = std::fs::read_to_string(python_dir().join("logging_handlers.py")).expect("source");
    let line = source.lines().position(|l| l.contains("warnings.warn(\"careful\")")).expect("warn line") + 1;
    assert!(event.field("file").is_some_and(|f| f.ends_with("logging_handlers.py")), "{event:?}");
    assert_eq!(event.field("line"), Some(line.to_string().as_str()));
}

/// A module that does not import `logging` does not get it imported for it: warnings are
/// forwarded all the same, and the handler is attached when a handler first imports `logging`.
async fn late_logging(capture: Capture) {
    let actor = PythonChildProcessBuilder::new(config("late_logging", "run"))
        .log_level(Level::DEBUG)
        .spawn::<LogOp>()
        .await
        .expect("spawn");
    let loaded = actor.ask(op("loaded", 0)).await.expect("loaded");
    assert!(loaded.captured.is_empty(), "nothing imported logging: {:?}", loaded.captured);
    actor.ask(op("warn", 0)).await.expect("warn");
    let source = std::fs::read_to_string(python_dir().join("late_logging.py")).expect("source");
    let line = source.lines().position(|l| l.contains("warnings.warn(f\"early")).expect("warn line") + 1;
    let events = capture.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].level, Level::WARN);
    assert_eq!(events[0].message, "UserWarning: early 0");
    assert_eq!(events[0].field("source"), Some("warning"));
    assert_eq!(events[0].field("logger"), Some("py.warnings"));
    assert!(events[0].field("file").is_some_and(|f| f.ends_with("late_logging.py")), "{:?}", events[0]);
    assert_eq!(events[0].field("line"), Some(line.to_string().as_str()));
    assert!(events[0].call.is_some(), "the warning is in the call's span");

    // The import attaches the handler and sets the root level (DEBUG) before the handler logs.
    let logged = actor.ask(op("log", 7)).await.expect("log");
    assert_eq!(logged.captured, ["SnakeHandler", "DEBUG"]);
    let events = capture.with_message("late line 7");
    assert_eq!(events.len(), 1, "{:?}", capture.events());
    assert_eq!(events[0].field("logger"), Some("late"));
    assert_eq!(events[0].level, Level::INFO);
    // From now on warnings go through `logging`, still forwarded once.
    actor.ask(op("warn", 1)).await.expect("warn again");
    let warnings: Vec<_> = capture.events().into_iter().filter(|e| e.field("source") == Some("warning")).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[1].message.starts_with("UserWarning: early 1"), "{:?}", warnings[1]);
    let loaded = actor.ask(op("loaded", 0)).await.expect("loaded");
    assert_eq!(loaded.captured, ["logging"]);
    let uncaptured = actor.ask(op("uncapture", 0)).await.expect("uncapture");
    assert_eq!(uncaptured.captured, ["True"], "Python's own showwarning is back");
}

async fn users_own_handler(capture: Capture) {
    let actor = spawn("run", Level::INFO).await;
    actor.ask(op("hello", 0)).await.expect("hello");
    actor.ask(op("levels", 0)).await.expect("levels");
    let reply = actor.ask(op("captured", 0)).await.expect("captured");
    assert_eq!(
        reply.captured,
        ["INFO:hello 42", "INFO:info line", "WARNING:warning line", "ERROR:error line", "CRITICAL:critical line"]
    );
    assert_eq!(capture.events().len(), 5, "snake's handler saw the same records");
}

async fn burst(capture: Capture) {
    const RECORDS: u32 = 10_000;
    let actor = spawn("run", Level::INFO).await;
    let reply = tokio::time::timeout(Duration::from_secs(60), actor.ask(op("burst", RECORDS)))
        .await
        .expect("the reply is not held up by the records")
        .expect("burst");
    assert_eq!(reply.n, RECORDS);
    // Records and the reply share one ordered channel: by the time the reply is in, every record
    // sent before it has been emitted.
    let events = capture.events();
    let records: Vec<&Captured> = events.iter().filter(|e| e.message.starts_with("record ")).collect();
    assert_eq!(records.len(), RECORDS as usize, "no record lost; last: {:?}", records.last());
    for (i, event) in records.iter().enumerate() {
        assert_eq!(event.message, format!("record {i}"), "in order");
    }
    assert!(events.iter().all(|e| e.field("logger") != Some("snake")), "nothing was dropped");
    // The actor still answers afterwards.
    assert_eq!(actor.ask(op("hello", 7)).await.expect("hello").n, 7);
}

async fn burst_below_level(capture: Capture) {
    let actor = spawn("run", Level::WARN).await;
    let reply = actor.ask(op("burst", 10_000)).await.expect("burst");
    assert_eq!(reply.n, 10_000);
    actor.ask(op("levels", 0)).await.expect("levels");
    assert_eq!(
        levels_and_messages(&capture),
        vec![
            (Level::WARN, "warning line".to_owned()),
            (Level::ERROR, "error line".to_owned()),
            (Level::ERROR, "critical line".to_owned()),
        ]
    );
}
