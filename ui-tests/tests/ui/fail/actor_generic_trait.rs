#[snake::actor]
trait Inference<T> {
    fn predict(request: T) -> String;
}

fn main() {}
