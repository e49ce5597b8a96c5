#[snake::actor]
trait Inference {
    #[snake(name = "predict_label")]
    fn predict(text: String) -> String;
}

fn main() {}
