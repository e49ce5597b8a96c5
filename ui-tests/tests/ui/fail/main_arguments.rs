#[snake::main]
async fn main(args: Vec<String>) {
    assert!(args.is_empty());
}
