struct Token;

#[snake::actor]
trait Inference {
    fn tokens(text: String) -> snake::Stream<Token>;
}

fn main() {}
