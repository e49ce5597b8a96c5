use std::collections::HashMap;

use serde::{Deserialize, Serialize};

// Python dict keys made by snake are str or int: a list cannot be one.
#[derive(Serialize, Deserialize, snake::PyMessage)]
struct Index {
    by_path: HashMap<Vec<String>, u32>,
}

fn main() {}
