//! The low-level API underneath the macros: a Python function answering typed Rust messages.
//!
//! Run with `cargo run -p snake-examples --bin lowlevel`. The Python side is
//! `examples/python/lowlevel.py`.

use std::error::Error;

use serde::{Deserialize, Serialize};
use snake::{PythonChildProcessBuilder, PythonConfig, PythonExecutionError};

/// Ask Python for the most frequent words of a text.
#[derive(Debug, Serialize, Deserialize)]
struct Summarize {
    text: String,
    top: u32,
}

/// What `summarize` returns.
#[derive(Debug, Serialize, Deserialize)]
struct Summary {
    words: u32,
    top_words: Vec<(String, u32)>,
}

impl snake::ChildMessage for Summarize {
    type Reply = Summary;
}

// Lets this binary serve `PythonActor<Summarize>` when it is re-executed as the child.
snake::register_actor!(Summarize);

#[snake::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();

    let config = PythonConfig {
        module_name: "lowlevel".into(),
        function_name: "summarize".into(),
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/python").into(),
        ..PythonConfig::default()
    };
    let actor = PythonChildProcessBuilder::new(config).spawn::<Summarize>().await?;
    let info = actor.ask(snake::GetChildInfo).await?;
    println!("python {} child (pid {}) is ready", info.python_version, info.pid);

    let text = "the quick brown fox jumps over the lazy dog the fox";
    let summary = actor.ask(Summarize { text: text.into(), top: 2 }).await?;
    println!("{} words; most frequent: {:?}", summary.words, summary.top_words);

    // Many calls in flight at once: the async handler runs them concurrently.
    let calls = (1..=100u32).map(|n| {
        let actor = actor.clone();
        async move { actor.ask(Summarize { text: "word ".repeat(n as usize), top: 1 }).await }
    });
    let replies = futures_util::future::join_all(calls).await;
    let total: u32 = replies.into_iter().map(|r| r.map(|s| s.words)).sum::<Result<u32, _>>()?;
    println!("100 concurrent calls counted {total} words in all");

    // A Python exception arrives as a typed error, traceback included.
    match actor.ask(Summarize { text: String::new(), top: 0 }).await {
        Err(snake::kameo::error::SendError::HandlerError(PythonExecutionError::Exception(e))) => {
            println!("python raised {}: {}", e.type_name, e.message);
        }
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
