//! What the layer above observes of a connection, handed to it as a trait object, so the engine
//! never imports the parent API: metrics, trace propagation, the child's logs and spans.

use std::time::Duration;

use tracing::Span;

use crate::frame::TraceContext;
use crate::records::{LogRecord, SpanRecord};

/// Observes one connection. Every method has a default that does nothing, so an implementation
/// names only what it cares about. Called on the connection's tasks: keep them short and never
/// block.
pub trait Hooks: Send + Sync + 'static {
    /// The W3C context to send with a call made in `span` (its `snake.call` span); `None` sends
    /// none, and the child records no spans for the call.
    fn trace_context(&self, span: &Span) -> Option<TraceContext> {
        let _ = span;
        None
    }

    /// Makes `span`, a callback the parent serves, a child of the remote span `trace`.
    fn set_remote_parent(&self, span: &Span, trace: &TraceContext) {
        let _ = (span, trace);
    }

    /// A call or stream of method `method` was sent.
    fn call_started(&self, method: u32) {
        let _ = method;
    }

    /// A call or stream of method `method` ended after `elapsed`: `error` is the kind of its
    /// failure, if it failed.
    fn call_finished(&self, method: u32, elapsed: Duration, error: Option<&'static str>) {
        let _ = (method, elapsed, error);
    }

    /// The parent answered a callback from the child.
    fn callback_served(&self, elapsed: Duration, error: Option<&'static str>) {
        let _ = (elapsed, error);
    }

    /// The child `child_pid` sent a log record, during the call whose span is `call_span` (when
    /// it is still in flight).
    fn log(&self, record: LogRecord, call_span: Option<&Span>, child_pid: u32) {
        let _ = (record, call_span, child_pid);
    }

    /// The child sent spans it finished.
    fn spans(&self, records: Vec<SpanRecord>) {
        let _ = records;
    }
}

/// Observes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}
