//! No warnings, not even pedantic clippy ones, come out of `#[snake::actor]` and
//! `#[snake::callback]`, and every generated public item is documented. This file is also
//! compiled as a module of the ui-tests library, so `cargo clippy` checks it.

#![deny(warnings, clippy::pedantic, missing_docs, missing_debug_implementations)]

use serde::{Deserialize, Serialize};

/// A question.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Question {
    /// The text.
    pub text: String,
}

/// An answer.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Answer {
    /// The text.
    pub text: String,
}

/// Answers questions in Python.
#[snake::actor(module = "oracle")]
pub trait Oracle {
    /// Answers one question.
    async fn ask(question: Question) -> Answer;
    /// Answers several, one by one.
    fn ask_many(questions: Vec<Question>) -> snake::Stream<Answer>;
    /// Counts words.
    fn count(text: String) -> u64;
    async fn undocumented(text: String) -> snake::Stream<u64>;
}

/// Declared and never used: the lint level on the declaration covers the handle's methods.
#[allow(dead_code)]
#[snake::actor]
trait Unused {
    fn never(request: u8) -> u8;
}

/// Looks a word up.
///
/// # Errors
///
/// When the word is empty.
#[snake::callback]
pub async fn define(word: String) -> Result<String, snake::CallbackError> {
    if word.is_empty() { Err(snake::CallbackError::new("no word")) } else { Ok(word) }
}

/// A dictionary the callbacks read.
#[derive(Debug, Default)]
pub struct Dictionary {
    words: Vec<String>,
}

#[snake::callback(crate = ::snake)]
impl Dictionary {
    /// Whether a word is known.
    pub async fn known(&self, word: String) -> bool {
        std::future::ready(self.words.contains(&word)).await
    }
}

/// Uses the handle.
///
/// # Errors
///
/// When the child cannot be spawned or a call fails.
pub async fn use_oracle(builder: snake::PythonChildProcessBuilder) -> Result<u64, snake::PythonExecutionError> {
    let oracle = Oracle::spawn(builder).await?;
    let answer = oracle.ask(Question { text: "why".into() }).await?;
    let _stream = oracle.ask_many(vec![Question { text: answer.text }]).await?;
    let _numbers = oracle.undocumented(String::new()).await?;
    let _ = oracle.actor_ref();
    oracle.count("a b".into()).await
}

/// Names the items so nothing is unused.
pub fn main() {
    let dictionary = Dictionary::default();
    let _ = (dictionary, use_oracle, define);
}
