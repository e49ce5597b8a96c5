#[snake::callback(rename = "twice")]
async fn double(n: i64) -> i64 {
    n * 2
}

fn main() {}
