use serde::{Deserialize, Serialize};

// Adjacent tagging is for enums; a struct can only take `tag`.
#[derive(Serialize, Deserialize, snake::PyMessage)]
#[serde(tag = "type", content = "value")]
struct Ping {
    seq: u32,
}

fn main() {}
