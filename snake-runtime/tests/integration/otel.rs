//! One trace across both processes, checked with the OpenTelemetry SDK's in-memory exporter.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use libtest_mimic::{Failed, Trial};
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use snake::{PythonActorExt, PythonChildProcessBuilder};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

use crate::callbacks::Service;
use crate::common::{config, python_dir};
use crate::messages::*;

pub fn trials() -> Vec<Trial> {
    vec![
        traced("otel::one_trace_from_rust_call_through_python_and_callback_sync", "otel_probe", true),
        traced("otel::one_trace_from_rust_call_through_python_and_callback_async", "otel_probe_async", true),
        traced("otel::without_the_python_package_nothing_breaks", "otel_probe_async", false),
        streamed("otel::a_streaming_call_is_one_trace_sync", "count"),
        streamed("otel::a_streaming_call_is_one_trace_async", "count_async"),
    ]
}

/// Runs `test` with an in-memory exporter behind an OpenTelemetry layer, on a current-thread
/// runtime so that the thread-local subscriber sees every task.
fn with_exporter<Fut>(name: &'static str, test: impl FnOnce(InMemorySpanExporter) -> Fut + Send + 'static) -> Trial
where
    Fut: std::future::Future<Output = ()>,
{
    Trial::test(name, move || {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("snake-tests")));
        let _guard = tracing::subscriber::set_default(subscriber);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failed::from(e.to_string()))?;
        runtime.block_on(test(exporter));
        Ok(())
    })
}

fn traced(name: &'static str, function: &'static str, python_otel: bool) -> Trial {
    with_exporter(name, move |exporter| check_trace(exporter, function, python_otel))
}

async fn check_trace(exporter: InMemorySpanExporter, function: &'static str, python_otel: bool) {
    let mut config = config("callbacks", function);
    if !python_otel {
        config.module_path = python_dir().with_file_name("python_no_otel").display().to_string();
        config.python_path = vec![python_dir().display().to_string()];
    }
    let actor = PythonChildProcessBuilder::new(config)
        .with_callback_handler(Service::default())
        .export_child_spans(exporter.clone())
        .spawn::<ProbeQuery>()
        .await
        .expect("spawn");
    let query = Query { key: "k".into(), depth: 1, tags: vec![], nested: None, weights: BTreeMap::new() };
    let root = tracing::info_span!("test.root");
    let probe = actor.call(ProbeQuery(query)).instrument(root).await.expect("probe");

    // The child's spans arrive in a separate frame after the reply; wait for them.
    let mut spans = Vec::new();
    for _ in 0..250 {
        spans = exporter.get_finished_spans().expect("spans");
        if spans.iter().any(|s| s.name == "test.root") && spans.iter().any(|s| s.name == "snake.dispatch") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let by_name: HashMap<&str, &SpanData> = spans.iter().map(|s| (s.name.as_ref(), s)).collect();
    let get = |name: &str| *by_name.get(name).unwrap_or_else(|| panic!("no span {name} in {:?}", by_name.keys()));
    let root = get("test.root");
    let call = get("snake.call");
    let dispatch = get("snake.dispatch");
    let python = get(&format!("snake.python {function}"));
    let callback = get("snake.callback");
    let handler = get("rust.lookup");
    let convert_request = get("snake.convert.request");
    let convert_reply = get("snake.convert.reply");

    let trace_id = root.span_context.trace_id();
    for span in [call, dispatch, python, callback, handler, convert_request, convert_reply] {
        assert_eq!(span.span_context.trace_id(), trace_id, "{} is in the same trace", span.name);
    }
    let id = |span: &SpanData| span.span_context.span_id();
    assert_eq!(call.parent_span_id, id(root), "the call is a child of the caller's span");
    assert_eq!(dispatch.parent_span_id, id(call), "the child's dispatch is a child of the call");
    assert_eq!(python.parent_span_id, id(dispatch), "the Python execution is a child of dispatch");
    assert_eq!(convert_request.parent_span_id, id(dispatch));
    assert_eq!(convert_reply.parent_span_id, id(dispatch));
    assert_eq!(callback.parent_span_id, id(python), "the callback is a child of the Python call");
    assert_eq!(handler.parent_span_id, id(callback), "the Rust handler runs in the callback span");
    assert_ne!(id(python), SpanId::INVALID);
    assert!(python.start_time <= python.end_time && dispatch.start_time <= python.start_time);

    assert_eq!(probe.installed, python_otel);
    if python_otel {
        assert_eq!(probe.trace_id, format!("{trace_id}"), "Python's current span is in the request's trace");
        assert_eq!(probe.span_id, format!("{}", id(python)), "Python's current span is the snake.python span");
    }
}

fn streamed(name: &'static str, function: &'static str) -> Trial {
    with_exporter(name, move |exporter| check_stream_trace(exporter, function))
}

async fn check_stream_trace(exporter: InMemorySpanExporter, function: &'static str) {
    use futures_util::StreamExt;

    let actor = PythonChildProcessBuilder::new(config("streams", function))
        .export_child_spans(exporter.clone())
        .spawn::<Count>()
        .await
        .expect("spawn");
    let root = tracing::info_span!("test.root");
    let items: Vec<u64> =
        async { actor.stream(Count { n: 5 }).await.expect("open").map(|i| i.expect("item").index).collect().await }
            .instrument(root)
            .await;
    assert_eq!(items, vec![0, 1, 2, 3, 4]);
    let python_name = format!("snake.python {function}");
    let mut spans = Vec::new();
    for _ in 0..250 {
        spans = exporter.get_finished_spans().expect("spans");
        if spans.iter().any(|s| s.name == "test.root") && spans.iter().any(|s| s.name == python_name) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let find = |name: &str| spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}"));
    let (root, call, dispatch, python) =
        (find("test.root"), find("snake.call"), find("snake.dispatch"), find(&python_name));
    assert_eq!(call.parent_span_id, root.span_context.span_id());
    assert_eq!(dispatch.parent_span_id, call.span_context.span_id());
    assert_eq!(python.parent_span_id, dispatch.span_context.span_id());
    assert!([call, dispatch, python].iter().all(|s| s.span_context.trace_id() == root.span_context.trace_id()));
}
