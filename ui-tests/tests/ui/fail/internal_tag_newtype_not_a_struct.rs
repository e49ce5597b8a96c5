use serde::{Deserialize, Serialize};

// An internally tagged newtype variant merges its content's keys with the tag: a str has none.
#[derive(Serialize, Deserialize, snake::PyMessage)]
#[serde(tag = "kind")]
enum Message {
    Text(String),
}

fn main() {}
