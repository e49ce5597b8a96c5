#[derive(Default)]
struct Counter {
    total: u64,
}

#[snake::callback]
impl Counter {
    async fn add(self, by: u64) -> u64 {
        self.total + by
    }
}

fn main() {
    let _ = Counter::default().add(1);
}
