#[snake::actor]
trait Inference {
    extern "C" fn predict(text: String) -> String;
}

fn main() {}
