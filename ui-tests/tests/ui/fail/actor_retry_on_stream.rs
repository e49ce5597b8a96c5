#[snake::actor]
trait Feed {
    #[snake(retry)]
    fn items(count: u32) -> snake::Stream<String>;
}

fn main() {}
