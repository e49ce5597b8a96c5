use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[serde(tag = "kind")]
enum Shape {
    Rect(f64, f64),
}

fn main() {}
