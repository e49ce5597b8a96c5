//! One request, one trace, two processes: the span tree of a call into Python and back.
//!
//! The program spawns a Python actor (`examples/python/traced.py`) and makes one request inside
//! a root span. The Python handler logs with `logging`, awaits a callback into Rust, logs again
//! and answers; the Rust callback handler opens a span of its own and logs with `tracing`.
//!
//! It then prints every span of that trace as a tree, from both processes: the parent's spans
//! (the root, `snake.call`, `snake.callback` and the handler's span) come from its
//! OpenTelemetry layer; the child's (`snake.dispatch`, the request and reply conversions and
//! `snake.python greet`) are recorded in the child with their own ids and reach the same
//! exporter through [`PythonChildProcessBuilder::export_child_spans`]. Each span shows its
//! duration and the process that recorded it; the log lines appear under the span they were
//! emitted in, Python's under `snake.call`. Times are relative to the start of the trace; a log
//! line's is when the parent received it. One run:
//!
//! ```text
//! trace 372460ceca27dd447efd70d8288b0343: 8 spans in 2 processes (parent pid 5706, child pid 5709)
//! span                                process                start    duration
//! trace_tree.request                  parent pid 5706    +0.000 ms   87.965 ms
//! └─ snake.call                       parent pid 5706    +0.364 ms   87.523 ms
//!    │  • +79.880 ms INFO  snake::python [traced]: greeting ada
//!    │  • +87.801 ms WARN  snake::python [traced]: ada has been here 3 times before
//!    └─ snake.dispatch                child pid 5709    +44.492 ms   39.605 ms
//!       ├─ snake.convert.request      child pid 5709    +44.634 ms    0.044 ms
//!       ├─ snake.python greet         child pid 5709    +44.678 ms   39.398 ms
//!       │  └─ snake.callback          parent pid 5706   +79.931 ms    3.488 ms
//!       │     └─ visitor_book.lookup  parent pid 5706   +80.065 ms    3.253 ms
//!       │           • +83.300 ms INFO  trace_tree: looked up ada visits=3
//!       └─ snake.convert.reply        child pid 5709    +84.076 ms    0.020 ms
//! ```
//!
//! Run it with
//!
//! ```text
//! cargo run -p snake-examples --bin trace_tree
//! ```
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the same spans are also sent to an OpenTelemetry
//! collector as OTLP/HTTP JSON (to `{endpoint}/v1/traces`, service name `snake-trace-tree`)
//! by the `opentelemetry-otlp` exporter over its hyper client: plain `http://` only, the other
//! `OTEL_EXPORTER_OTLP_*` settings (headers, timeout) as that crate reads them. For example, to a
//! local Jaeger or `otelcol` listening on the default port:
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run -p snake-examples --bin trace_tree
//! ```
//!
//! `RUST_LOG` filters what is logged to stderr (`warn` by default); the tree gets every
//! span and event at `info` and above regardless.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::error::Error;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, Status, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_otlp::{OTEL_EXPORTER_OTLP_ENDPOINT, Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use serde::{Deserialize, Serialize};
use snake::{CallbackError, CallbackHandler, PythonActorExt, PythonChildProcessBuilder, PythonConfig};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The `service.name` of the exported spans.
const SERVICE: &str = "snake-trace-tree";

/// The Python function the actor runs.
const FUNCTION: &str = "greet";

/// The span the request is made in.
const ROOT_SPAN: &str = "trace_tree.request";

/// The span the Rust callback handler opens.
const HANDLER_SPAN: &str = "visitor_book.lookup";

/// Every span the trace must hold before it is printed: the child's arrive after the reply, in
/// frames of their own, and `snake.call` ends only once the reply has been delivered.
const EXPECTED_SPANS: [&str; 8] = [
    ROOT_SPAN,
    "snake.call",
    "snake.dispatch",
    "snake.convert.request",
    "snake.python greet",
    "snake.convert.reply",
    "snake.callback",
    HANDLER_SPAN,
];

/// How long to wait for all of [`EXPECTED_SPANS`].
const SPANS_TIMEOUT: Duration = Duration::from_secs(10);

/// Ask Python to greet a visitor.
#[derive(Debug, Serialize, Deserialize)]
struct Greet {
    name: String,
}

/// What `greet` answers.
#[derive(Debug, Serialize, Deserialize)]
struct Greeting {
    text: String,
    visits: u32,
}

impl snake::ChildMessage for Greet {
    type Reply = Greeting;
}

/// What Python may ask the Rust side while it handles a request (`snake.callback_handle`).
///
/// Externally tagged, serde's default: Python sends `{"LookupVisits": {"name": "ada"}}`.
#[derive(Debug, Serialize, Deserialize)]
enum Directory {
    /// How many times `name` has visited before.
    LookupVisits { name: String },
}

/// The answer to [`Directory::LookupVisits`].
#[derive(Debug, Serialize, Deserialize)]
struct Visits {
    name: String,
    visits: u32,
}

impl snake::ChildCallbackMessage for Directory {
    type Reply = Visits;
}

// Lets this binary serve `PythonActor<Greet, Directory>` when it is re-executed as the child.
snake::register_actor!(Greet, Directory);

/// Answers [`Directory`] callbacks from a visitor book kept in the parent process.
#[derive(Clone, Debug, Default)]
struct VisitorBook {
    visits: Arc<Mutex<HashMap<String, u32>>>,
}

impl VisitorBook {
    fn with_visits(entries: &[(&str, u32)]) -> Self {
        let visits = entries.iter().map(|&(name, n)| (name.to_owned(), n)).collect();
        Self { visits: Arc::new(Mutex::new(visits)) }
    }

    /// Earlier visits of `name`; counts this one.
    fn record_visit(&self, name: &str) -> u32 {
        // A panic while holding the lock cannot leave the map half-updated: take it anyway.
        let mut visits = self.visits.lock().unwrap_or_else(PoisonError::into_inner);
        let count = visits.entry(name.to_owned()).or_default();
        let earlier = *count;
        *count += 1;
        earlier
    }
}

impl CallbackHandler<Directory> for VisitorBook {
    async fn handle(&mut self, msg: Directory) -> Result<Visits, CallbackError> {
        match msg {
            Directory::LookupVisits { name } => {
                let span = tracing::info_span!(HANDLER_SPAN, visitor = %name);
                async {
                    // A real handler would query a database here.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let visits = self.record_visit(&name);
                    tracing::info!(visits, "looked up {name}");
                    Ok(Visits { name, visits })
                }
                .instrument(span)
                .await
            }
        }
    }
}

/// Keeps every span it is given; one clone serves the parent's tracer provider, another the
/// child's spans.
#[derive(Clone, Debug, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl Collector {
    /// The spans of `trace` collected so far.
    fn trace(&self, trace: TraceId) -> Vec<SpanData> {
        let spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
        spans.iter().filter(|span| span.span_context.trace_id() == trace).cloned().collect()
    }

    /// Waits until the spans of `trace` include every one of `names`; returns them.
    async fn wait_for(&self, trace: TraceId, names: &[&str], timeout: Duration) -> Result<Vec<SpanData>, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let spans = self.trace(trace);
            let missing: Vec<&str> =
                names.iter().copied().filter(|name| !spans.iter().any(|span| span.name == *name)).collect();
            if missing.is_empty() {
                return Ok(spans);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("spans {missing:?} of trace {trace} did not arrive within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl SpanExporter for Collector {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).extend(batch);
        std::future::ready(Ok(()))
    }
}

#[snake::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("trace_tree: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let resource = Resource::builder().with_service_name(SERVICE).build();
    // Built first, so that a bad endpoint (say, https://) fails before any work is done.
    let otlp = otlp_exporter(&resource)?;

    let collector = Collector::default();
    let provider = SdkTracerProvider::builder().with_resource(resource).with_simple_exporter(collector.clone()).build();
    // Per-layer filters: `RUST_LOG` quiets stderr without hiding events from the trace.
    let stderr_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("trace_tree")).with_filter(LevelFilter::INFO))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_filter(stderr_filter),
        )
        .try_init()?;

    let config = PythonConfig {
        module_name: "traced".into(),
        function_name: FUNCTION.into(),
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/python").into(),
        ..PythonConfig::default()
    };
    let actor = PythonChildProcessBuilder::new(config)
        .with_callback_handler(VisitorBook::with_visits(&[("ada", 3)]))
        .export_child_spans(collector.clone())
        .spawn::<Greet>()
        .await?;

    let root = tracing::info_span!(ROOT_SPAN, visitor = "ada");
    let trace = root.context().span().span_context().trace_id();
    if trace == TraceId::INVALID {
        return Err("the OpenTelemetry layer gave the root span no trace id".into());
    }
    // `call`, not `ask`: it keeps the request's spans in the caller's trace.
    let greeting = actor.call(Greet { name: "ada".into() }).instrument(root).await?;
    println!("python answered {:?} ({} earlier visits)", greeting.text, greeting.visits);

    let spans = collector.wait_for(trace, &EXPECTED_SPANS, SPANS_TIMEOUT).await?;
    provider.shutdown().map_err(|err| format!("shutting the tracer provider down: {err}"))?;

    println!();
    print!("{}", render_tree(trace, &spans, std::process::id()));
    println!();

    match otlp {
        Some((url, otlp)) => match otlp.export(spans.clone()).await {
            Ok(()) => println!("OTLP export of {} spans to {url} succeeded", spans.len()),
            Err(err) => {
                println!("OTLP export of {} spans to {url} failed: {}", spans.len(), otlp_reason(&err));
                return Err("the OTLP export failed".into());
            }
        },
        None => println!(
            "(set {OTEL_EXPORTER_OTLP_ENDPOINT}=http://127.0.0.1:4318 to also send these spans to a collector)"
        ),
    }
    Ok(())
}

/// The OTLP/HTTP JSON exporter for the collector named in `OTEL_EXPORTER_OTLP_ENDPOINT`, and the
/// URL it posts to; `None` when the variable is unset or empty.
///
/// The traces URL is derived here (`{endpoint}/v1/traces`, as the OTLP specification does) and
/// handed to the builder, so the URL printed is the one used. The resource is set by hand because
/// the exporter is called directly rather than through a tracer provider, which would set it.
fn otlp_exporter(resource: &Resource) -> Result<Option<(String, opentelemetry_otlp::SpanExporter)>, Box<dyn Error>> {
    let Some(endpoint) = std::env::var(OTEL_EXPORTER_OTLP_ENDPOINT).ok().filter(|endpoint| !endpoint.trim().is_empty())
    else {
        return Ok(None);
    };
    let endpoint = endpoint.trim();
    // hyper's plain connector refuses other schemes only when a request is made, and the exporter
    // then reports a bare "network error": say it now.
    if !endpoint.get(.."http://".len()).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://")) {
        return Err(format!(
            "{OTEL_EXPORTER_OTLP_ENDPOINT}={endpoint}: this example's exporter speaks plain http:// only \
             (it is built without TLS); send to a local collector"
        )
        .into());
    }
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(url.as_str())
        .build()
        .map_err(|err| format!("the OTLP exporter for {url}: {err}"))?;
    exporter.set_resource(resource);
    Ok(Some((url, exporter)))
}

/// The exporter's own message, without the SDK's generic wrapping.
fn otlp_reason(err: &OTelSdkError) -> String {
    match err {
        OTelSdkError::InternalFailure(reason) => reason.clone(),
        other => other.to_string(),
    }
}

/// One printed line: a span with its process, start and duration, or an event.
struct Line {
    tree: String,
    columns: Option<Columns>,
}

struct Columns {
    process: String,
    start: String,
    duration: String,
    error: String,
}

/// The spans of `trace` as a tree: children under their parent sorted by start time, events
/// under their span, times relative to the earliest span's start. Spans whose parent is not
/// among `spans` are printed as roots.
fn render_tree(trace: TraceId, spans: &[SpanData], parent_pid: u32) -> String {
    let ids: HashSet<SpanId> = spans.iter().map(|span| span.span_context.span_id()).collect();
    let mut roots = Vec::new();
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    for span in spans {
        if ids.contains(&span.parent_span_id) {
            children.entry(span.parent_span_id).or_default().push(span);
        } else {
            roots.push(span);
        }
    }
    let by_start = |a: &&SpanData, b: &&SpanData| (a.start_time, &a.name).cmp(&(b.start_time, &b.name));
    roots.sort_by(by_start);
    for siblings in children.values_mut() {
        siblings.sort_by(by_start);
    }

    let tree = Tree {
        children,
        parent_pid,
        origin: spans.iter().map(|span| span.start_time).min().unwrap_or(SystemTime::UNIX_EPOCH),
    };
    let mut lines = Vec::new();
    for root in roots {
        tree.walk(root, "", "", &mut lines);
    }

    // The parent first, then children by pid.
    let pids: BTreeSet<(bool, u32)> =
        spans.iter().map(|span| pid_of(span, parent_pid)).map(|pid| (pid != parent_pid, pid)).collect();
    let processes: Vec<String> = pids.iter().map(|&(_, pid)| process_label(pid, parent_pid)).collect();
    let mut out =
        format!("trace {trace}: {} spans in {} processes ({})\n", spans.len(), pids.len(), processes.join(", "));

    let width =
        lines.iter().filter(|line| line.columns.is_some()).map(|line| line.tree.chars().count()).max().unwrap_or(0);
    let process_width =
        lines.iter().filter_map(|line| line.columns.as_ref()).map(|c| c.process.len()).max().unwrap_or(0);
    out.push_str(&format!("{:<width$}  {:<process_width$}  {:>11}  {:>10}\n", "span", "process", "start", "duration"));
    for line in lines {
        match line.columns {
            Some(Columns { process, start, duration, error }) => out.push_str(&format!(
                "{tree:<width$}  {process:<process_width$}  {start:>11}  {duration:>10}{error}\n",
                tree = line.tree,
            )),
            None => out.push_str(&format!("{}\n", line.tree)),
        }
    }
    out
}

/// What drawing the tree needs besides the span at hand.
struct Tree<'a> {
    children: HashMap<SpanId, Vec<&'a SpanData>>,
    parent_pid: u32,
    /// Times are printed relative to this.
    origin: SystemTime,
}

impl Tree<'_> {
    /// Adds `span`'s line, its events' and its subtree's. `branch` is drawn before the span's
    /// name, `indent` before everything beneath it.
    fn walk(&self, span: &SpanData, branch: &str, indent: &str, lines: &mut Vec<Line>) {
        let error = match &span.status {
            Status::Error { description } => format!("  error: {description}"),
            _ => String::new(),
        };
        lines.push(Line {
            tree: format!("{branch}{}", span.name),
            columns: Some(Columns {
                process: process_label(pid_of(span, self.parent_pid), self.parent_pid),
                start: format!("+{}", millis(self.since_origin(span.start_time))),
                duration: millis(span.end_time.duration_since(span.start_time).unwrap_or_default()),
                error,
            }),
        });

        let kids = self.children.get(&span.span_context.span_id()).map(Vec::as_slice).unwrap_or_default();
        let event_indent = format!("{indent}{}", if kids.is_empty() { "   " } else { "│  " });
        for event in span.events.iter() {
            let at = millis(self.since_origin(event.timestamp));
            let text = describe_event(&event.name, &event.attributes);
            lines.push(Line { tree: format!("{event_indent}• +{at} {text}"), columns: None });
        }
        for (i, kid) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            let (branch, below) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
            self.walk(kid, &format!("{indent}{branch}"), &format!("{indent}{below}"), lines);
        }
    }

    fn since_origin(&self, at: SystemTime) -> Duration {
        at.duration_since(self.origin).unwrap_or_default()
    }
}

/// `LEVEL target [logger]: message field=value ...` for one event recorded by
/// tracing-opentelemetry (which keeps the level and target as attributes).
fn describe_event(message: &str, attributes: &[KeyValue]) -> String {
    // Bookkeeping fields, shown in other ways or not at all (as are the `code.*` ones).
    const HIDDEN: [&str; 8] = ["level", "target", "logger", "actor", "child_pid", "source", "file", "line"];
    let get = |key: &str| attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value);
    let text = |key: &str| get(key).map(Value::as_str).unwrap_or_default();
    let mut out = format!("{:<5} {}", text("level"), text("target"));
    if let Some(logger) = get("logger") {
        out.push_str(&format!(" [{logger}]"));
    }
    out.push_str(": ");
    out.push_str(message);
    for kv in attributes {
        let key = kv.key.as_str();
        if !HIDDEN.contains(&key) && !key.starts_with("code.") {
            out.push_str(&format!(" {key}={}", kv.value));
        }
    }
    out
}

/// The pid a span was recorded in: the child sets `process.pid`; the parent's spans are ours.
fn pid_of(span: &SpanData, parent_pid: u32) -> u32 {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == "process.pid")
        .and_then(|kv| match &kv.value {
            Value::I64(pid) => u32::try_from(*pid).ok(),
            other => other.as_str().parse().ok(),
        })
        .unwrap_or(parent_pid)
}

fn process_label(pid: u32, parent_pid: u32) -> String {
    if pid == parent_pid { format!("parent pid {pid}") } else { format!("child pid {pid}") }
}

fn millis(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    fn span(name: &'static str, id: u64, parent: u64, start_micros: u64, pid: Option<&'static str>) -> SpanData {
        let start = SystemTime::UNIX_EPOCH + Duration::from_micros(start_micros);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(7_u128),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: start,
            end_time: start + Duration::from_micros(1500),
            attributes: pid.map(|pid| vec![KeyValue::new("process.pid", pid)]).unwrap_or_default(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    #[test]
    fn children_are_indented_under_their_parent_in_start_order() {
        let mut root = span("root", 1, 0, 0, None);
        root.events.events.push(opentelemetry::trace::Event::new(
            "hello",
            SystemTime::UNIX_EPOCH + Duration::from_micros(250),
            vec![KeyValue::new("level", "INFO"), KeyValue::new("target", "t"), KeyValue::new("n", 2_i64)],
            0,
        ));
        // Given out of order: the tree sorts siblings by start time.
        let spans =
            [span("late", 3, 1, 20, Some("99")), root, span("early", 2, 1, 10, None), span("leaf", 4, 2, 11, None)];
        let tree = render_tree(TraceId::from(7_u128), &spans, 42);
        let lines: Vec<&str> = tree.lines().collect();
        assert_eq!(
            lines[0],
            "trace 00000000000000000000000000000007: 4 spans in 2 processes (parent pid 42, child pid 99)"
        );
        assert_eq!(lines[1], "span        process              start    duration");
        assert_eq!(lines[2], "root        parent pid 42    +0.000 ms    1.500 ms");
        assert_eq!(lines[3], "│  • +0.250 ms INFO  t: hello n=2");
        assert_eq!(lines[4], "├─ early    parent pid 42    +0.010 ms    1.500 ms");
        assert_eq!(lines[5], "│  └─ leaf  parent pid 42    +0.011 ms    1.500 ms");
        assert_eq!(lines[6], "└─ late     child pid 99     +0.020 ms    1.500 ms");
        assert_eq!(lines.len(), 7);
    }
}
