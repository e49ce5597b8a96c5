#[snake::actor]
trait Inference {
    fn predict(text: String) -> String {
        text
    }
}

fn main() {}
