#[snake::actor]
trait Inference {
    unsafe fn predict(text: String) -> String;
}

fn main() {}
