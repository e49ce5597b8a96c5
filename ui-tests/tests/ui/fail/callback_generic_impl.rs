struct Counter<T>(T);

#[snake::callback]
impl<T: Send + Sync + 'static> Counter<T> {
    async fn add(&self, by: u64) -> u64 {
        by
    }
}

fn main() {}
