use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[serde(untagged, tag = "kind")]
enum Value {
    Int(i64),
    Text(String),
}

fn main() {}
