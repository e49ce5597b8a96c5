#[snake::callback]
fn double(n: i64) -> i64 {
    n * 2
}

fn main() {
    let _ = double(1);
}
