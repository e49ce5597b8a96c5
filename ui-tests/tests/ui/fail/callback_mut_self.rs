#[derive(Default)]
struct Counter {
    total: u64,
}

#[snake::callback]
impl Counter {
    async fn add(&mut self, by: u64) -> u64 {
        self.total += by;
        self.total
    }
}

fn main() {
    let _ = Counter::default().add(1);
}
