//! One trace across the process boundary.
//!
//! The parent opens a `tracing` span per call (`snake.call`) and per callback it serves
//! (`snake.callback`). When an OpenTelemetry layer is installed, the call span's W3C context
//! travels in the call frame; the child records its own spans for the call (dispatch, request
//! conversion, the Python execution, reply conversion) with ids it generates, makes the Python
//! span the parent of callbacks and of Python's own OpenTelemetry spans, and sends the finished
//! spans back. The parent hands them, ids unchanged, to the exporter given to
//! [`export_child_spans`](crate::PythonChildProcessBuilder::export_child_spans), so one exporter
//! sees the whole trace. (The SDK assigns span ids itself, so re-creating the child's spans
//! through the parent's tracer would break the parent ids callbacks already carry.)
//!
//! With no OpenTelemetry layer, call frames carry no trace context and the child records
//! nothing.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use tokio::sync::mpsc;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use snake_ipc::{SpanRecord, TraceContext};

/// Spans waiting for the exporter; past this many, new ones are dropped (and counted in a log).
const QUEUE: usize = 8192;

/// Spans per export call.
const BATCH: usize = 512;

/// The W3C context of `span`, when an OpenTelemetry layer tracks it.
pub(crate) fn context_of(span: &tracing::Span) -> Option<TraceContext> {
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let otel_span = cx.span();
    let sc = otel_span.span_context();
    sc.is_valid().then(|| TraceContext {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        flags: sc.trace_flags().to_u8(),
    })
}

/// An OpenTelemetry context whose (remote) parent is the span `trace` names.
pub(crate) fn remote_parent(trace: &TraceContext) -> opentelemetry::Context {
    let sc = SpanContext::new(
        TraceId::from_bytes(trace.trace_id),
        SpanId::from_bytes(trace.span_id),
        TraceFlags::new(trace.flags),
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(sc)
}

/// Makes `span`'s parent the remote span `trace` names.
pub(crate) fn set_remote_parent(span: &tracing::Span, trace: &TraceContext) {
    // Fails only when no OpenTelemetry layer tracks the span; then there is nothing to link.
    let _ = span.set_parent(remote_parent(trace));
}

fn unix(nanos: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// A span the child recorded, as the SDK's exporters take it.
pub(crate) fn span_data(record: SpanRecord) -> SpanData {
    let status = match record.error {
        Some(message) => Status::error(message),
        None => Status::Ok,
    };
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(record.trace_id),
            SpanId::from_bytes(record.span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from_bytes(record.parent_span_id),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(record.name),
        start_time: unix(record.start_unix_nanos),
        end_time: unix(record.end_unix_nanos),
        attributes: record.attributes.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: InstrumentationScope::builder("snake").with_version(env!("CARGO_PKG_VERSION")).build(),
    }
}

/// Where a connection puts the spans its child sends.
pub(crate) type SpanSender = mpsc::Sender<SpanData>;

/// The channel and export loop for one exporter; the loop runs once the child is spawned.
pub(crate) struct ChildSpanExport {
    pub(crate) sender: SpanSender,
    pub(crate) task: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl std::fmt::Debug for ChildSpanExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpanExport").finish_non_exhaustive()
    }
}

impl ChildSpanExport {
    pub(crate) fn new<E: SpanExporter + 'static>(exporter: E) -> Self {
        let (sender, mut receiver) = mpsc::channel::<SpanData>(QUEUE);
        let task = Box::pin(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match receiver.try_recv() {
                        Ok(span) => batch.push(span),
                        Err(_) => break,
                    }
                }
                if let Err(err) = exporter.export(batch).await {
                    tracing::warn!(error = %err, "exporting the python child's spans failed");
                }
            }
        });
        Self { sender, task }
    }
}

/// Queues the spans of one frame for export without waiting.
pub(crate) fn forward(sender: &SpanSender, records: Vec<SpanRecord>) {
    for record in records {
        if sender.try_send(span_data(record)).is_err() {
            tracing::warn!("dropping a python child span: the span exporter is behind");
            return;
        }
    }
}
