// The function is kept as written, so its callers still compile.
#[snake::main]
async fn run() -> u32 {
    1
}

fn main() {
    let _future = run();
}
