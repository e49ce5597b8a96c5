#[snake::actor(module = "inference", module = "models")]
trait Inference {
    fn predict(text: String) -> String;
}

fn main() {}
