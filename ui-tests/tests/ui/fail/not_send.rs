use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

// Messages move between tasks and threads; a raw pointer makes the type `!Send`.
#[derive(Serialize, Deserialize, snake::PyMessage)]
struct Local {
    value: u32,
    marker: PhantomData<*const ()>,
}

fn main() {}
