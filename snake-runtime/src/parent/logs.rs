//! Python log records and warnings from a child, re-emitted as `tracing` events in the parent.
//!
//! Every record becomes one event with target `snake::python`, so one filter directive
//! (`snake::python=debug`) controls all Python output, and `logger`, `actor` and `child_pid` fields
//! tell the sources apart. An event is the child of the span of the request that logged it, when
//! there is one, so it lands in that request's trace.

use tracing::{Level, Span};

use snake_ipc::{LogRecord, LogSource};

/// The `tracing` level of a Python numeric level (custom levels fall to the next standard one
/// below them).
pub(crate) fn level(python_level: u32) -> Level {
    match python_level {
        40.. => Level::ERROR,
        30..=39 => Level::WARN,
        20..=29 => Level::INFO,
        10..=19 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

/// Emits `record` from the child `pid` of actor `actor` as one `tracing` event, inside `span`
/// when given (else in whatever span is current).
pub(crate) fn emit(record: &LogRecord, span: Option<&Span>, actor: &str, pid: u32) {
    let source = match record.source {
        LogSource::Logging => "logging",
        LogSource::Warning => "warning",
    };
    // `tracing` needs the level and target at compile time: one call site per level. Without a
    // request span the event goes under the current span, as a contextual event would.
    let parent = span.map_or_else(|| tracing::Span::current().id(), tracing::Span::id);
    macro_rules! event_at {
        ($level:expr) => {
            tracing::event!(
                target: "snake::python",
                parent: parent,
                $level,
                logger = %record.logger,
                actor,
                child_pid = pid,
                source,
                file = record.file.as_deref(),
                line = record.line,
                exception = record.exception.as_deref(),
                "{}",
                record.message
            )
        };
    }
    match level(record.level) {
        Level::ERROR => event_at!(Level::ERROR),
        Level::WARN => event_at!(Level::WARN),
        Level::INFO => event_at!(Level::INFO),
        Level::DEBUG => event_at!(Level::DEBUG),
        _ => event_at!(Level::TRACE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_levels_map_to_tracing_levels() {
        let cases = [
            (0, Level::TRACE),
            (5, Level::TRACE),
            (10, Level::DEBUG),
            (15, Level::DEBUG),
            (20, Level::INFO),
            (25, Level::INFO),
            (30, Level::WARN),
            (39, Level::WARN),
            (40, Level::ERROR),
            (50, Level::ERROR),
            (u32::MAX, Level::ERROR),
        ];
        for (python, expected) in cases {
            assert_eq!(level(python), expected, "python level {python}");
        }
    }
}
