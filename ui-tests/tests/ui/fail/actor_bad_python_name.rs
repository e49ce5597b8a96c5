#[snake::actor]
trait Inference {
    #[snake(python = "lambda")]
    fn predict(text: String) -> String;
}

fn main() {}
