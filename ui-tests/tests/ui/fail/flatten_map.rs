use std::collections::HashMap;

use serde::{Deserialize, Serialize};

// A flattened map adds arbitrary keys, which a TypedDict cannot describe.
#[derive(Serialize, Deserialize, snake::PyMessage)]
struct Record {
    id: u64,
    #[serde(flatten)]
    extra: HashMap<String, String>,
}

fn main() {}
