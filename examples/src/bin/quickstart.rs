//! The quick start: declare a Python actor in Rust, implement it in Python, check one against
//! the other, run it.
//!
//! ```sh
//! cargo run -p snake-examples --bin quickstart                                  # run it
//! cargo run -p snake-examples --bin quickstart -- --snake-stubs write examples/python
//! python3 -m mypy --strict examples/python                                      # check the handlers
//! ```
//!
//! The Python side is `examples/python/quickstart.py`; the stubs it is checked against
//! (`snake_types.py`, `snake_actors.py`, `check_quickstart.py`, `snake_callbacks.pyi`) are
//! generated from the declarations below by the second command.

use std::error::Error;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use snake::{PythonChildProcessBuilder, PythonConfig, PythonExecutionError};

/// Ask for the most frequent words of a text.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Summarize {
    /// The text to analyse.
    pub text: String,
    /// How many of the most frequent words to return.
    pub top: u32,
}

/// Word statistics of a text.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Summary {
    /// Words, stop words excluded.
    pub words: u32,
    /// The most frequent words with their counts, most frequent first.
    pub top_words: Vec<(String, u32)>,
}

/// Text analytics implemented in Python (`examples/python/quickstart.py`).
#[snake::actor(module = "quickstart")]
pub trait TextAnalytics {
    /// Counts the words of a text, without stop words, and ranks the most frequent.
    async fn summarize(request: Summarize) -> Summary;
    /// Splits a text into lower-case words.
    fn tokenize(text: String) -> Vec<String>;
    /// Yields the running number of words, one line at a time.
    fn running_count(text: String) -> snake::Stream<u32>;
}

/// Words Python should ignore; Python calls back into Rust for them.
#[snake::callback]
async fn stop_words(language: String) -> Result<Vec<String>, snake::CallbackError> {
    match language.as_str() {
        "en" => Ok(["the", "a", "an", "of", "over"].map(String::from).to_vec()),
        other => Err(snake::CallbackError::new(format!("no stop words for `{other}`"))),
    }
}

#[snake::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();

    let config =
        PythonConfig { module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/python").into(), ..Default::default() };
    let analytics = TextAnalytics::spawn(PythonChildProcessBuilder::new(config)).await?;

    let text = "the quick brown fox jumps over the lazy dog the fox";
    let summary = analytics.summarize(Summarize { text: text.into(), top: 2 }).await?;
    println!("{} words; most frequent: {:?}", summary.words, summary.top_words);

    let tokens = analytics.tokenize("Hello, snake World".into()).await?;
    println!("tokens: {tokens:?}");

    let mut counts = analytics.running_count("one two\nthree\nfour five six".into()).await?;
    while let Some(count) = counts.next().await {
        println!("running count: {}", count?);
    }

    // Many calls in flight at once: the async handler runs them concurrently.
    let calls = (1..=100u32).map(|n| {
        let analytics = analytics.clone();
        async move { analytics.summarize(Summarize { text: "word ".repeat(n as usize), top: 1 }).await }
    });
    let total: u32 =
        futures_util::future::join_all(calls).await.into_iter().map(|r| r.map(|s| s.words)).sum::<Result<_, _>>()?;
    println!("100 concurrent calls counted {total} words in all");

    // A Python exception arrives as a typed error, traceback included.
    match analytics.summarize(Summarize { text: String::new(), top: 0 }).await {
        Err(PythonExecutionError::Exception(e)) => println!("python raised {}: {}", e.type_name, e.message),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
