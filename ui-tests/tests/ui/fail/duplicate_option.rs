use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(name = "Account", name = "Member")]
struct User {
    id: u64,
}

fn main() {}
