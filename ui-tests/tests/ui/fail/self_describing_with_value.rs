use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(self_describing = true)]
struct User {
    id: u64,
}

fn main() {}
