"""Makes a remote span the current OpenTelemetry context in the child, when the `opentelemetry`
package is installed (`snake-runtime/src/child/spans.rs`).

While a traced call runs, its `snake.python` span is current, so Python's own spans become its
children. Without the package both functions do nothing.
"""

from __future__ import annotations

from contextvars import Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.context import Context

try:
    from opentelemetry import context as _context
    from opentelemetry import trace as _trace
except ImportError:
    _AVAILABLE = False
else:
    _AVAILABLE = True


def attach(trace_id: int, span_id: int, flags: int) -> Token[Context] | None:
    """Makes the span `span_id` of trace `trace_id` current; returns the token that undoes it."""
    if not _AVAILABLE:
        return None
    span_context = _trace.SpanContext(
        trace_id=trace_id,
        span_id=span_id,
        is_remote=True,
        trace_flags=_trace.TraceFlags(flags),
    )
    return _context.attach(_trace.set_span_in_context(_trace.NonRecordingSpan(span_context)))


def detach(token: Token[Context] | None) -> None:
    """Restores the context from before the `attach` that returned `token`."""
    if token is not None:
        _context.detach(token)
