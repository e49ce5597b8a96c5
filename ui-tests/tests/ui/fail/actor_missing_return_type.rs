#[snake::actor]
trait Inference {
    fn predict(text: String);
}

fn main() {}
