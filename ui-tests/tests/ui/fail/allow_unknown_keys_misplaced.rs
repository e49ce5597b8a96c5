use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
struct User {
    #[snake(allow_unknown_keys)]
    id: u64,
}

#[derive(Serialize, Deserialize, snake::PyMessage)]
enum Shape {
    #[snake(allow_unknown_keys)]
    Circle { radius: f64 },
}

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(allow_unknown_keys = true)]
struct Member {
    id: u64,
}

fn main() {}
