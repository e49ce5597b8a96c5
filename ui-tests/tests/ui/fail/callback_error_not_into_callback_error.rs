#[snake::callback]
async fn parse(text: String) -> Result<i64, String> {
    text.parse().map_err(|_| text)
}

fn main() {}
