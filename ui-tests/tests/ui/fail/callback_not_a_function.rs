#[snake::callback]
struct Double {
    n: i64,
}

fn main() {}
