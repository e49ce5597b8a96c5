//! Calls that succeed: echo, nesting, concurrency, payload sizes, noisy handlers, environment.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use libtest_mimic::Trial;
use snake::{GetChildInfo, ProtocolError, PythonExecutionError};

use crate::common::{builder, handler_error, trial};
use crate::messages::*;

pub fn trials() -> Vec<Trial> {
    vec![
        trial("calls::sync_echo_round_trips", sync_echo_round_trips),
        trial("calls::async_echo_round_trips", async_echo_round_trips),
        trial("calls::async_handlers_run_in_their_own_task", async_handlers_run_in_their_own_task),
        trial("calls::actor_listed_in_the_entry_macro_is_served", listed_actor_is_served),
        trial("calls::deeply_nested_message_round_trips", deeply_nested_message_round_trips),
        trial("calls::ten_thousand_concurrent_async_asks_are_matched", ten_thousand_concurrent_asks),
        trial("calls::slow_sync_handler_does_not_block_fast_calls", slow_sync_does_not_block_fast),
        trial(
            "calls::burst_of_slow_and_fast_sync_calls_has_no_head_of_line_blocking",
            burst_without_head_of_line_blocking,
        ),
        trial("calls::one_sync_worker_runs_one_handler_at_a_time", one_worker_one_handler_at_a_time),
        trial("calls::one_mebibyte_reply_and_request", one_mebibyte_payloads),
        trial("calls::oversize_request_is_refused_and_child_keeps_serving", oversize_request),
        trial("calls::oversize_reply_is_an_error_and_child_keeps_serving", oversize_reply),
        trial("calls::chatty_handler_does_not_corrupt_the_protocol", chatty_handler),
        trial("calls::child_runs_the_build_interpreter", child_runs_build_interpreter),
        trial("calls::child_environment_is_minimal", child_environment_is_minimal),
    ]
}

async fn sync_echo_round_trips() {
    let actor = builder("echo").spawn::<Text>().await.expect("spawn");
    for text in ["", "hello", "ünïcödé ✓", "line\nbreak"] {
        let reply = actor.ask(Text { text: text.into() }).await.expect("echo");
        assert_eq!(reply.text, text);
    }
}

async fn async_echo_round_trips() {
    let actor = builder("echo_async").spawn::<Text>().await.expect("spawn");
    let reply = actor.ask(Text { text: "async".into() }).await.expect("echo");
    assert_eq!(reply, Text { text: "async".into() });
}

/// A handler that returns within its first step runs that step at once, on the loop, but still
/// as its own task: `asyncio.current_task()` and `asyncio.timeout` work as with one that awaits.
async fn async_handlers_run_in_their_own_task() {
    let actor = builder("in_a_task").spawn::<Text>().await.expect("spawn");
    let calls: FuturesUnordered<_> = (0..20)
        .map(|n| {
            let actor = actor.clone();
            let text = if n % 2 == 0 { "now" } else { "await" };
            async move { (text, actor.ask(Text { text: text.into() }).await) }
        })
        .collect();
    let replies: Vec<_> = calls.collect().await;
    for (text, reply) in replies {
        assert_eq!(reply.expect("reply").text, format!("{text}: task=True same=True"));
    }
}

async fn listed_actor_is_served() {
    let actor = builder("echo").spawn::<Listed>().await.expect("spawn");
    assert_eq!(actor.ask(Listed { n: -42 }).await.expect("echo"), Listed { n: -42 });
}

pub fn sample_tree(depth: u32) -> Tree {
    let leaf = |n: u32| Leaf {
        name: format!("leaf-{n}"),
        tags: BTreeSet::from([format!("t{n}"), "common".to_owned()]),
        shape: match n % 4 {
            0 => Shape::Point,
            1 => Shape::Circle(f64::from(n) + 0.5),
            2 => Shape::Segment(-(n as i32), n as i32),
            _ => Shape::Rect { w: n as u16, h: u16::MAX },
        },
        weight: n.is_multiple_of(2).then_some(n as f32 / 4.0),
    };
    Tree {
        root: Branch {
            leaves: (0..4).map(leaf).collect(),
            index: BTreeMap::from([
                ("some".to_owned(), vec![Some(leaf(5)), None, Some(leaf(6))]),
                ("none".to_owned(), vec![]),
            ]),
            by_id: BTreeMap::from([(0, (-128, u64::MAX, 'λ')), (u32::MAX, (127, 0, '\0'))]),
        },
        children: if depth == 0 { vec![] } else { vec![sample_tree(depth - 1), sample_tree(depth - 1)] },
        raw: vec![0, 1, 254, 255],
        big: i128::MIN + i128::from(depth),
        flag: depth.is_multiple_of(2),
        unit: (),
    }
}

async fn deeply_nested_message_round_trips() {
    let actor = builder("echo").spawn::<Tree>().await.expect("spawn");
    let tree = sample_tree(4);
    let reply = actor.ask(tree.clone()).await.expect("echo");
    assert_eq!(reply, tree);
}

async fn ten_thousand_concurrent_asks() {
    let actor = builder("jitter").spawn::<Jitter>().await.expect("spawn");
    let mut calls: FuturesUnordered<_> = (0..10_000u64)
        .map(|id| {
            let actor = actor.clone();
            async move { (id, actor.ask(Jitter { id }).await) }
        })
        .collect();
    let mut seen = 0;
    while let Some((id, reply)) = calls.next().await {
        let reply = reply.expect("reply");
        assert_eq!(reply, JitterReply { id, doubled: id * 2, tag: format!("t{id}") });
        seen += 1;
    }
    assert_eq!(seen, 10_000);
}

async fn slow_sync_does_not_block_fast() {
    let actor = builder("slow_or_fast").sync_workers(4).spawn::<Work>().await.expect("spawn");
    let slow: Vec<_> = (0..2)
        .map(|id| {
            let actor = actor.clone();
            tokio::spawn(async move { actor.ask(Work { id, slow: true, seconds: 1.5 }).await })
        })
        .collect();
    // Let the slow calls start before the fast ones are sent.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fast: FuturesUnordered<_> = (100..150)
        .map(|id| {
            let actor = actor.clone();
            async move { actor.ask(Work { id, slow: false, seconds: 0.0 }).await }
        })
        .collect();
    let mut answered = 0;
    while let Some(reply) = fast.next().await {
        reply.expect("fast reply");
        answered += 1;
    }
    assert_eq!(answered, 50);
    assert!(slow.iter().all(|task| !task.is_finished()), "all fast replies came while the slow handlers ran");
    let mut peak = 0;
    for task in slow {
        peak = peak.max(task.await.expect("task").expect("slow reply").peak);
    }
    assert!(peak >= 2, "the slow handlers ran concurrently (peak {peak})");
}

/// Slow and fast calls arrive in one burst, slow first: the fast ones queued behind them must
/// still be picked up by idle workers rather than wait for a slow one to finish.
async fn burst_without_head_of_line_blocking() {
    let actor = builder("slow_or_fast").sync_workers(4).spawn::<Work>().await.expect("spawn");
    let ask = |work: Work| {
        let actor = actor.clone();
        async move { (work.slow, actor.ask(work).await) }
    };
    let mut calls = FuturesUnordered::new();
    for id in 0..2 {
        calls.push(ask(Work { id, slow: true, seconds: 1.5 }));
    }
    for id in 100..150 {
        calls.push(ask(Work { id, slow: false, seconds: 0.0 }));
    }
    let mut order = Vec::new();
    while let Some((slow, reply)) = calls.next().await {
        order.push((slow, reply.expect("reply").id));
    }
    let first_slow = order.iter().position(|(slow, _)| *slow).expect("slow replies");
    assert_eq!(first_slow, 50, "all 50 fast replies come before either slow one: {order:?}");
}

/// With one sync worker, a call that runs on the child's reading thread (the pool was idle) and
/// the calls queued behind it never run at the same time: the reading thread counts as the
/// worker.
async fn one_worker_one_handler_at_a_time() {
    let actor = builder("slow_or_fast").sync_workers(1).spawn::<Work>().await.expect("spawn");
    let slow = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(Work { id: 0, slow: true, seconds: 0.3 }).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fast: FuturesUnordered<_> = (1..21)
        .map(|id| {
            let actor = actor.clone();
            async move { actor.ask(Work { id, slow: false, seconds: 0.0 }).await }
        })
        .collect();
    let mut ids = Vec::new();
    while let Some(reply) = fast.next().await {
        let reply = reply.expect("fast reply");
        assert_eq!(reply.peak, 1, "call {} ran beside another handler", reply.id);
        ids.push(reply.id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..21).collect::<Vec<_>>());
    let slow = slow.await.expect("task").expect("slow reply");
    assert_eq!((slow.id, slow.peak), (0, 1));
}

async fn one_mebibyte_payloads() {
    let actor = builder("big").spawn::<Big>().await.expect("spawn");
    let reply = actor.ask(Big { size: 1 << 20 }).await.expect("big reply");
    assert_eq!(reply.len(), 1 << 20);
    assert!(reply.bytes().all(|b| b == b'y'));
    let echo = builder("echo").spawn::<Text>().await.expect("spawn");
    let text = "z".repeat(1 << 20);
    assert_eq!(echo.ask(Text { text: text.clone() }).await.expect("big request").text, text);
}

async fn oversize_request() {
    let actor = builder("echo").max_frame_size(64 * 1024).spawn::<Text>().await.expect("spawn");
    let err = handler_error(actor.ask(Text { text: "x".repeat(100_000) }).await);
    assert!(matches!(err, PythonExecutionError::Protocol(ProtocolError::FrameTooLarge { max: 65536, .. })), "{err:?}");
    assert_eq!(actor.ask(Text { text: "small".into() }).await.expect("still serving").text, "small");
}

async fn oversize_reply() {
    let actor = builder("big").max_frame_size(64 * 1024).spawn::<Big>().await.expect("spawn");
    let err = handler_error(actor.ask(Big { size: 100_000 }).await);
    assert!(matches!(err, PythonExecutionError::Protocol(ProtocolError::FrameTooLarge { max: 65536, .. })), "{err:?}");
    assert_eq!(actor.ask(Big { size: 10 }).await.expect("still serving"), "y".repeat(10));
}

async fn chatty_handler() {
    let actor = builder("chatty").spawn::<Lines>().await.expect("spawn");
    for _ in 0..3 {
        assert_eq!(actor.ask(Lines { lines: 5_000 }).await.expect("chatty"), 5_000);
    }
}

async fn child_runs_build_interpreter() {
    let actor = builder("prefix").spawn::<GetPrefix>().await.expect("spawn");
    let reported = actor.ask(GetPrefix).await.expect("prefix");
    let python3 = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .expect("python3 on PATH");
    let expected = String::from_utf8(python3.stdout).expect("utf-8").trim().to_owned();
    assert_eq!(reported.prefix, expected, "child sys.prefix is that of python3 on PATH");
    let info = actor.ask(GetChildInfo).await.expect("info");
    assert_eq!(info.sys_prefix, expected, "handshake reports the same prefix");
    assert_eq!(info.python_version, reported.version);
    assert!(info.pid > 0 && info.pid != std::process::id());
}

async fn child_environment_is_minimal() {
    let mut config = crate::common::config("handlers", "environment");
    config.env_vars = vec![("SNAKE_TEST_SETTING".into(), "on".into())];
    let actor = snake::PythonChildProcessBuilder::new(config.clone()).spawn::<GetEnv>().await.expect("spawn");
    let keys = actor.ask(GetEnv).await.expect("env");
    let allowed = [
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "VIRTUAL_ENV",
        "PYTHONHOME",
        "USER",
        "TZ",
        "PYTHONPATH",
        "PYTHONUNBUFFERED",
        "LD_LIBRARY_PATH",
        "PYTHONDONTWRITEBYTECODE",
        "SNAKE_TEST_SETTING",
    ];
    let unexpected: Vec<&String> =
        keys.iter().filter(|k| !allowed.contains(&k.as_str()) && !k.starts_with("LC_")).collect();
    assert!(unexpected.is_empty(), "child saw {unexpected:?}");
    assert!(keys.contains(&"SNAKE_TEST_SETTING".to_owned()));
    // The channel's number is taken out of the environment at start: a snake binary the handler
    // starts must not take itself for a child.
    assert!(!keys.contains(&"SNAKE_CHILD_FD".to_owned()), "{keys:?}");
    // Python writes no `__pycache__` into the user's module directory.
    assert!(keys.contains(&"PYTHONDONTWRITEBYTECODE".to_owned()), "{keys:?}");
    // Cargo sets this for the test process; only an explicit opt-in passes it on.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
    assert!(!keys.contains(&"CARGO_PKG_NAME".to_owned()));
    let inheriting =
        snake::PythonChildProcessBuilder::new(config).inherit_env(true).spawn::<GetEnv>().await.expect("spawn");
    let keys: HashMap<String, ()> = inheriting.ask(GetEnv).await.expect("env").into_iter().map(|k| (k, ())).collect();
    assert!(keys.contains_key("CARGO_PKG_NAME"));
}
