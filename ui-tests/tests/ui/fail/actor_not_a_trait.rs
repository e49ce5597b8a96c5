#[snake::actor]
struct Inference {
    model: String,
}

fn main() {}
