#[snake::actor]
trait Inference {
    fn predict(text: String, temperature: f64) -> String;
}

fn main() {}
