#[snake::actor]
trait Inference {
    fn spawn(text: String) -> String;
}

fn main() {}
