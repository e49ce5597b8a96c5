#[snake::actor]
trait Inference {
    fn predict(text: String) -> String;
    #[snake(python = "predict")]
    fn predict_again(text: String) -> String;
}

fn main() {}
