#[derive(serde::Serialize, serde::Deserialize)]
struct Label {
    text: String,
}

#[snake::actor]
trait Inference {
    async fn predict(text: String) -> Label;
}

fn main() {}
