struct Prompt {
    text: String,
}

#[snake::actor]
trait Inference {
    fn predict(prompt: Prompt) -> String;
}

fn main() {
    let _ = Prompt { text: String::new() }.text;
}
