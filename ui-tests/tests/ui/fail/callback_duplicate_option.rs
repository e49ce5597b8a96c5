#[snake::callback(name = "twice", name = "double")]
async fn double(n: i64) -> i64 {
    n * 2
}

fn main() {}
