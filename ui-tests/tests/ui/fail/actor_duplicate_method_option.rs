#[snake::actor]
trait Inference {
    #[snake(python = "predict_label")]
    #[snake(python = "label")]
    fn predict(text: String) -> String;
}

fn main() {}
