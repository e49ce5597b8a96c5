#[snake::callback]
async fn length(text: &str) -> usize {
    text.len()
}

fn main() {
    let _ = length("a");
}
