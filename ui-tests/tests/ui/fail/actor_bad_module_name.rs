#[snake::actor(module = "models/inference")]
trait Inference {
    fn predict(text: String) -> String;
}

fn main() {}
