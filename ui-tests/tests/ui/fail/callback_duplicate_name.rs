struct Counter;

#[snake::callback]
impl Counter {
    async fn add(&self, by: u64) -> u64 {
        by
    }

    #[snake(name = "add")]
    async fn add_twice(&self, by: u64) -> u64 {
        by * 2
    }
}

fn main() {}
