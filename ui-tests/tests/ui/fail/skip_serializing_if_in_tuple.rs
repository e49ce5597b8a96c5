use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
struct Pair(u8, #[serde(skip_serializing_if = "Option::is_none")] Option<u8>);

fn main() {}
