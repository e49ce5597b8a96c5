#[derive(serde::Serialize, serde::Deserialize, snake::PyMessage)]
struct Stream<T> {
    items: Vec<T>,
}

#[snake::actor]
trait Inference {
    fn tokens(text: String) -> Stream<String>;
}

fn main() {}
