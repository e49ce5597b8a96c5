//! `#[snake(allow_unknown_keys)]` on a struct, a generic struct, an enum and next to other options.

use serde::{Deserialize, Serialize};
use snake::PyMessage;

#[derive(Serialize, Deserialize, PyMessage)]
#[snake(allow_unknown_keys)]
struct Annotated {
    name: String,
}

#[derive(Serialize, Deserialize, PyMessage)]
#[snake(allow_unknown_keys, name = "PageOf")]
#[serde(rename = "Page")]
struct Page<T> {
    items: Vec<T>,
}

#[derive(Serialize, Deserialize, PyMessage)]
#[snake(self_describing)]
#[snake(allow_unknown_keys)]
enum Shape {
    Circle { radius: f64 },
    Square(f64),
}

fn main() {
    let _ = (Annotated { name: String::new() }, Page::<u8> { items: Vec::new() }, Shape::Square(1.0));
    let _ = Shape::Circle { radius: 1.0 };
}
