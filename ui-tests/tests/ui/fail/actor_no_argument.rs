#[snake::actor]
trait Inference {
    fn predict() -> String;
}

fn main() {}
