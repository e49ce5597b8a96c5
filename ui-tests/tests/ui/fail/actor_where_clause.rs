#[snake::actor]
trait Inference
where
    Self: Sized,
{
    fn predict(request: String) -> String;
}

fn main() {}
