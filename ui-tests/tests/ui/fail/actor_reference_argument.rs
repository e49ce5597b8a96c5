#[snake::actor]
trait Inference {
    fn predict(text: &str) -> String;
}

fn main() {}
