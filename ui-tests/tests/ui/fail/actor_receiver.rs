#[snake::actor]
trait Inference {
    fn predict(&self, request: String) -> String;
}

fn main() {}
