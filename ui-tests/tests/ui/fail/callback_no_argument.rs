#[snake::callback]
async fn now() -> u64 {
    0
}

fn main() {
    let _ = now();
}
