#[snake::actor]
trait Inference {
    fn predict<T>(request: T) -> String;
}

fn main() {}
