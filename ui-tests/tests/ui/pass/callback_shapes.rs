//! Every shape `#[snake::callback]` supports: free functions and `&self` methods, plain and
//! `Result` returns; the functions stay callable from Rust and are declared for the stubs.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use snake::CallbackError;
use snake::schema::{Declarations, Type};

/// A request from Python.
#[derive(Serialize, Deserialize, snake::PyMessage)]
pub struct Lookup {
    pub key: String,
}

/// Doubles a number.
#[snake::callback]
async fn double(n: i64) -> i64 {
    n * 2
}

/// Renamed, and fallible with an error that converts into `CallbackError`.
#[snake::callback(name = "parse_number")]
pub async fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
    text.parse()
}

/// A `Result` alias with one argument.
#[snake::callback]
async fn read_len(path: String) -> std::io::Result<u64> {
    Ok(path.len() as u64)
}

/// No return type: Python gets `None`; a destructuring pattern is fine.
#[snake::callback]
async fn log_line(Lookup { key }: Lookup) {
    let _ = key;
}

/// State shared by the callbacks of a child.
#[derive(Default)]
pub struct Counter {
    total: AtomicU64,
}

#[snake::callback]
impl Counter {
    /// Adds to the total.
    async fn add(&self, by: u64) -> Result<u64, CallbackError> {
        if by == 0 {
            return Err(CallbackError::new("add at least one"));
        }
        Ok(self.total.fetch_add(by, Ordering::SeqCst) + by)
    }

    /// Renamed.
    #[snake(name = "counter_total")]
    async fn total(&self, _: ()) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// Left alone: not async.
    fn get(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// Left alone: no receiver.
    async fn make() -> Self {
        Self::default()
    }

    /// Left alone: skipped.
    #[snake(skip)]
    async fn helper(&self, a: &str, b: &str) -> usize {
        a.len() + b.len()
    }
}

/// Runs a future that never waits (these callbacks do no I/O).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn main() {
    block_on(async {
        assert_eq!(double(21).await, 42);
        assert_eq!(parse("7".into()).await.expect("a number"), 7);
        assert_eq!(read_len("abc".into()).await.expect("a length"), 3);
        log_line(Lookup { key: "k".into() }).await;
        let counter = Counter::make().await;
        assert_eq!(counter.add(2).await, Ok(2));
        assert_eq!(counter.add(0).await.expect_err("zero").message(), "add at least one");
        assert_eq!(counter.total(()).await, 2);
        assert_eq!(counter.get(), 2);
        assert_eq!(counter.helper("a", "bc").await, 3);
    });

    let declarations = Declarations::collect();
    let names: Vec<&str> = declarations.callbacks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["add", "counter_total", "double", "log_line", "parse_number", "read_len"]);
    let by_name = |name: &str| declarations.callbacks.iter().find(|c| c.name == name).expect("declared");
    assert_eq!(by_name("double").docs, "Doubles a number.");
    assert_eq!(by_name("double").arg, Type::int(true, 64));
    assert_eq!(by_name("parse_number").reply, Type::int(true, 64), "the reply is the `Ok` type");
    assert_eq!(by_name("read_len").reply, Type::int(false, 64));
    assert_eq!(by_name("log_line").arg, Type::Named("Lookup".into()));
    assert_eq!(by_name("log_line").reply, Type::NoneType);
    assert_eq!(by_name("add").docs, "Adds to the total.");
    assert_eq!(by_name("counter_total").arg, Type::NoneType);
    assert!(declarations.callbacks.iter().all(|c| !c.streaming));
}
