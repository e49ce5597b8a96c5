use serde::{Deserialize, Serialize};

// Three mistakes in one item: all three are reported, not only the first.
#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(name = "class")]
enum Event {
    #[snake(name = "Started")]
    Start,
    Stop {
        #[snake(crate = ::snake)]
        at: u64,
    },
}

fn main() {}
