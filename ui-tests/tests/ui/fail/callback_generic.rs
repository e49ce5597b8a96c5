#[snake::callback]
async fn echo<T>(value: T) -> T {
    value
}

fn main() {
    let _ = echo(1);
}
