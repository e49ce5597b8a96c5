// The body is still checked, as the body of an async block: it may `.await`, and what it uses is used.
async fn answer() -> u32 {
    42
}

#[snake::main]
fn main() {
    let n: u32 = answer().await;
    assert_eq!(n, 42);
}
