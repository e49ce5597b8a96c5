#[snake::actor]
trait Inference {
    #[snake(retry, retry)]
    fn predict(text: String) -> String;
}

fn main() {}
