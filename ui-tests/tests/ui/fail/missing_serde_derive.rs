// PyMessage describes what serde produces, so the type must derive serde's traits too.
#[derive(snake::PyMessage)]
struct User {
    id: u64,
}

fn main() {}
