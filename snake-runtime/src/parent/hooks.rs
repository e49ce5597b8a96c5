//! What the parent observes of each child's connection: call metrics, trace propagation, the
//! child's log records and finished spans. The engine calls these through its
//! [`Hooks`] trait.

use std::sync::Arc;
use std::time::Duration;

use snake_ipc::{Hooks, LogRecord};
#[cfg(feature = "otel")]
use snake_ipc::{SpanRecord, TraceContext};
use tracing::Span;

use super::logs;
#[cfg(feature = "otel")]
use super::trace::{self, SpanSender};
use crate::metrics::ActorMetrics;
use crate::protocol::WARMUP_METHOD;

/// The hooks of one actor's connection (shared by its successive children).
pub(crate) struct ParentHooks {
    pub(crate) label: String,
    pub(crate) metrics: Arc<ActorMetrics>,
    /// Where the child's finished spans go.
    #[cfg(feature = "otel")]
    pub(crate) child_spans: Option<SpanSender>,
}

impl Hooks for ParentHooks {
    #[cfg(feature = "otel")]
    fn trace_context(&self, span: &Span) -> Option<TraceContext> {
        trace::context_of(span)
    }

    #[cfg(feature = "otel")]
    fn set_remote_parent(&self, span: &Span, trace: &TraceContext) {
        trace::set_remote_parent(span, trace);
    }

    // The warmup is part of a worker's start, not a call anyone made: it is not counted.
    fn call_started(&self, method: u32) {
        if method != WARMUP_METHOD {
            self.metrics.call_started();
        }
    }

    fn call_finished(&self, method: u32, elapsed: Duration, error: Option<&'static str>) {
        if method != WARMUP_METHOD {
            self.metrics.call_finished(elapsed, error);
        }
    }

    fn callback_served(&self, elapsed: Duration, error: Option<&'static str>) {
        self.metrics.callback_served(elapsed, error);
    }

    fn log(&self, record: LogRecord, call_span: Option<&Span>, child_pid: u32) {
        logs::emit(&record, call_span, &self.label, child_pid);
    }

    #[cfg(feature = "otel")]
    fn spans(&self, records: Vec<SpanRecord>) {
        if let Some(sender) = &self.child_spans {
            trace::forward(sender, records);
        }
    }
}
