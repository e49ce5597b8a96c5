// Every mistake is reported, not only the first.
#[snake::main(flavor = "current_thread", worker_threads = 0, flavor = "current_thread")]
fn main() {
    let _ = std::future::ready(1).await;
}
