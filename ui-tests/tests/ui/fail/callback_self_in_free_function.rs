#[snake::callback]
async fn add(self, by: u64) -> u64 {
    by
}

fn main() {}
