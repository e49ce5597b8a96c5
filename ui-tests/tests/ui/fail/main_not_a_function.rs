#[snake::main]
struct App;

fn main() {
    let _app = App;
}
