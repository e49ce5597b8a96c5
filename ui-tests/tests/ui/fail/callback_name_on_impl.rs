struct Counter;

#[snake::callback(name = "add")]
impl Counter {
    async fn add(&self, by: u64) -> u64 {
        by
    }
}

fn main() {}
