use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Plain {
    x: u8,
}

#[derive(Serialize, Deserialize, snake::PyMessage)]
struct Wrapper {
    plain: Plain,
}

fn main() {}
