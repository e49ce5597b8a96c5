//! Per-actor call metrics, read with `GetMetrics`.

use std::collections::BTreeMap;
use std::time::Duration;

use libtest_mimic::Trial;
use snake::{GetMetrics, PythonExecutionError};
use tracing::Level;

use crate::common::{handler_error, trial};
use crate::logs::{builder, op, spawn};

pub fn trials() -> Vec<Trial> {
    vec![
        trial("metrics::calls_are_counted_by_outcome", calls_by_outcome),
        trial("metrics::timed_out_call_is_counted_and_leaves_nothing_in_flight", timed_out_call),
    ]
}

async fn calls_by_outcome() {
    let actor = spawn("run", Level::WARN).await;
    let fresh = actor.ask(GetMetrics).await.expect("metrics");
    assert_eq!((fresh.calls, fresh.ok, fresh.in_flight, fresh.latency.count), (0, 0, 0, 0));
    for n in 0..20 {
        assert_eq!(actor.ask(op("captured", n)).await.expect("ok").n, n);
    }
    for _ in 0..3 {
        let err = handler_error(actor.ask(op("raise", 0)).await);
        assert!(matches!(err, PythonExecutionError::Exception(_)), "{err:?}");
    }
    let metrics = actor.ask(GetMetrics).await.expect("metrics");
    assert_eq!(metrics.actor, "logging_handlers.run");
    assert_eq!(metrics.calls, 23);
    assert_eq!(metrics.ok, 20);
    assert_eq!(metrics.errors, BTreeMap::from([("exception".to_owned(), 3)]));
    assert_eq!(metrics.in_flight, 0);
    assert_eq!((metrics.callbacks, metrics.callback_errors, metrics.restarts), (0, 0, 0));
    let latency = &metrics.latency;
    assert_eq!(latency.count, 23);
    assert!(latency.max > 0, "{latency:?}");
    assert!(latency.p50 <= latency.p90 && latency.p90 <= latency.p99 && latency.p99 <= latency.max, "{latency:?}");
    assert!(latency.mean <= latency.max, "{latency:?}");
}

async fn timed_out_call() {
    let actor = builder("run_async", Level::WARN)
        .call_timeout(Duration::from_millis(100))
        .spawn::<crate::logs::LogOp>()
        .await
        .expect("spawn");
    let err = handler_error(actor.ask(op("sleep", 5_000)).await);
    assert!(matches!(err, PythonExecutionError::CallTimedOut { .. }), "{err:?}");
    assert_eq!(actor.ask(op("captured", 1)).await.expect("ok").n, 1);
    let metrics = actor.ask(GetMetrics).await.expect("metrics");
    assert_eq!((metrics.calls, metrics.ok, metrics.in_flight), (2, 1, 0));
    assert_eq!(metrics.errors, BTreeMap::from([("call_timed_out".to_owned(), 1)]));
    assert!(metrics.latency.max >= 100_000, "the timed-out call took its timeout: {:?}", metrics.latency);
}
