struct Counter;

#[snake::callback]
impl Counter {
    fn add(&self, by: u64) -> u64 {
        by
    }
}

fn main() {
    let _ = Counter.add(1);
}
