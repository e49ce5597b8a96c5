#[snake::actor(modul = "inference")]
trait Inference {
    fn predict(text: String) -> String;
}

fn main() {}
