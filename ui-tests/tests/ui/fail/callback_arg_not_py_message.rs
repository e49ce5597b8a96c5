struct Point {
    x: i64,
}

#[snake::callback]
async fn norm(point: Point) -> i64 {
    point.x.abs()
}

fn main() {}
