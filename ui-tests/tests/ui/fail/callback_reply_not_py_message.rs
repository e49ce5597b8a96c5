struct Point {
    x: i64,
}

#[snake::callback]
async fn origin(x: i64) -> Point {
    Point { x }
}

fn main() {
    let _ = origin(1);
}
