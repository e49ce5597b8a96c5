trait Add {
    async fn add(&self, by: u64) -> u64;
}

struct Counter;

#[snake::callback]
impl Add for Counter {
    async fn add(&self, by: u64) -> u64 {
        by
    }
}

fn main() {}
