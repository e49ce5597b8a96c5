#[snake::actor]
trait Inference {
    const fn predict(text: String) -> String;
}

fn main() {}
