// serde cannot serialize unions, so they have no Python shape.
#[derive(snake::PyMessage)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
