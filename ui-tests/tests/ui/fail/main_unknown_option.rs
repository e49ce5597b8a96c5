async fn answer() -> u32 {
    42
}

#[snake::main(flavour = "current_thread")]
async fn main() {
    assert_eq!(answer().await, 42);
}
