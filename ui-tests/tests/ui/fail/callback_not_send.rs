use std::rc::Rc;

#[snake::callback]
async fn hold(n: i64) -> i64 {
    let shared = Rc::new(n);
    std::future::ready(()).await;
    *shared
}

fn main() {}
