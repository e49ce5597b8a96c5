#[snake::actor]
trait Inference {
    fn predict((text, n): (String, u8)) -> String;
}

fn main() {}
