use serde::{Deserialize, Serialize};

// `as` describes one field; on the type it has no meaning.
#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(as = String)]
struct User {
    id: u64,
}

fn main() {}
