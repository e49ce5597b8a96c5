//! Generators streamed to Rust: order, completeness, backpressure, cancellation, errors.

use std::time::Duration;

use futures_util::StreamExt;
use libtest_mimic::Trial;
use snake::{ConversionDirection, HandlerMode, PythonChildProcessBuilder, PythonExecutionError, Streaming};

use crate::common::{config, handler_error, trial};
use crate::messages::*;

pub fn trials() -> Vec<Trial> {
    vec![
        trial("streams::hundred_thousand_items_arrive_in_order_sync", || all_items("count")),
        trial("streams::hundred_thousand_items_arrive_in_order_async", || all_items("count_async")),
        trial("streams::slow_consumer_holds_the_generator_back_sync", || backpressure("count")),
        trial("streams::slow_consumer_holds_the_generator_back_async", || backpressure("count_async")),
        trial("streams::dropping_the_stream_runs_finally_sync", || drop_runs_finally("endless")),
        trial("streams::dropping_the_stream_runs_finally_async", || drop_runs_finally("endless_async")),
        trial("streams::error_at_first_middle_and_last_item_sync", || errors_end_the_stream("failing")),
        trial("streams::error_at_first_middle_and_last_item_async", || errors_end_the_stream("failing_async")),
        trial("streams::item_of_the_wrong_type_ends_the_stream_with_its_path", bad_item),
        trial("streams::plain_call_and_stream_call_check_the_handler_kind", kinds_are_checked),
    ]
}

fn builder(function: &str) -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(config("streams", function))
}

/// `time.monotonic()` in Python reads the same clock.
fn monotonic() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

async fn all_items(function: &'static str) {
    let actor = builder(function).spawn::<Count>().await.expect("spawn");
    let mut stream = actor.ask(Streaming(Count { n: 100_000 })).await.expect("open");
    let mut next = 0;
    while let Some(item) = stream.next().await {
        assert_eq!(item.expect("item").index, next);
        next += 1;
    }
    assert_eq!(next, 100_000);
}

async fn backpressure(function: &'static str) {
    const WINDOW: usize = 8;
    let actor = builder(function).stream_window(WINDOW as u32).spawn::<Count>().await.expect("spawn");
    let mut stream = actor.ask(Streaming(Count { n: 120 })).await.expect("open");
    let mut asked_at = Vec::new();
    let mut produced_at = Vec::new();
    loop {
        asked_at.push(monotonic());
        let Some(item) = stream.next().await else { break };
        produced_at.push(item.expect("item").at);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(produced_at.len(), 120);
    // Item k needs credit that is granted only while the consumer takes item k - WINDOW, so the
    // generator cannot have produced it before the consumer asked for that one.
    for k in WINDOW..produced_at.len() {
        assert!(
            produced_at[k] > asked_at[k - WINDOW],
            "item {k} was produced at {} before the consumer asked for item {} at {}",
            produced_at[k],
            k - WINDOW,
            asked_at[k - WINDOW]
        );
    }
}

async fn drop_runs_finally(function: &'static str) {
    let marker = std::env::temp_dir().join(format!("snake-stream-{}-{function}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let actor = builder(function).spawn::<Endless>().await.expect("spawn");
    let mut stream = actor.ask(Streaming(Endless { marker: marker.display().to_string() })).await.expect("open");
    for expected in 0..3 {
        assert_eq!(stream.next().await.expect("item").expect("ok").index, expected);
    }
    drop(stream);
    let mut closed = None;
    for _ in 0..500 {
        closed = std::fs::read_to_string(&marker).ok();
        if closed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = std::fs::remove_file(&marker);
    assert_eq!(closed.as_deref(), Some("closed"), "the generator's finally block ran");
    // The child is still healthy after the cancel.
    let mut again = actor.ask(Streaming(Endless { marker: marker.display().to_string() })).await.expect("open");
    assert_eq!(again.next().await.expect("item").expect("ok").index, 0);
    drop(again);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = std::fs::remove_file(&marker);
}

async fn errors_end_the_stream(function: &'static str) {
    let actor = builder(function).spawn::<Failing>().await.expect("spawn");
    for fail_at in [0, 50, 99] {
        let mut stream = actor.ask(Streaming(Failing { n: 100, fail_at })).await.expect("open");
        for expected in 0..fail_at {
            assert_eq!(stream.next().await.expect("item").expect("ok").index, expected);
        }
        let err = stream.next().await.expect("error item").expect_err("an error");
        let PythonExecutionError::Exception(exception) = &err else { panic!("{err:?}") };
        assert_eq!(exception.type_name, "ValueError");
        assert_eq!(exception.message, format!("boom at {fail_at}"));
        assert!(stream.next().await.is_none(), "nothing after the error");
    }
}

async fn bad_item() {
    let actor = builder("bad_item").spawn::<Count>().await.expect("spawn");
    let mut stream = actor.ask(Streaming(Count { n: 0 })).await.expect("open");
    assert_eq!(stream.next().await.expect("item").expect("ok").index, 0);
    let err = stream.next().await.expect("error item").expect_err("an error");
    let PythonExecutionError::Conversion { direction, error } = &err else { panic!("{err:?}") };
    assert_eq!(*direction, ConversionDirection::StreamItem);
    assert_eq!(error.to_string(), "reply.index: expected int, got str");
    assert!(stream.next().await.is_none());
}

async fn kinds_are_checked() {
    let generator = builder("count").spawn::<Count>().await.expect("spawn");
    let err = handler_error(generator.ask(Count { n: 1 }).await);
    assert!(matches!(err, PythonExecutionError::HandlerMismatch { actual: HandlerMode::Generator, .. }), "{err:?}");
    let plain = PythonChildProcessBuilder::new(config("handlers", "echo")).spawn::<Text>().await.expect("spawn");
    let mut stream = plain.ask(Streaming(Text { text: "x".into() })).await.expect("open");
    let err = stream.next().await.expect("error item").expect_err("an error");
    assert!(
        matches!(
            err,
            PythonExecutionError::HandlerMismatch { declared: HandlerMode::Generator, actual: HandlerMode::Sync, .. }
        ),
        "{err:?}"
    );
    assert!(stream.next().await.is_none());
}
