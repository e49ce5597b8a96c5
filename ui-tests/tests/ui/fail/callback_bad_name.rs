#[snake::callback(name = "double-it")]
async fn double(n: i64) -> i64 {
    n * 2
}

fn main() {}
