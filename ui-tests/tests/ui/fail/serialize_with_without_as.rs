use serde::{Deserialize, Serialize, Serializer};

fn as_text<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.to_string())
}

#[derive(Serialize, Deserialize, snake::PyMessage)]
struct Counter {
    #[serde(serialize_with = "as_text")]
    value: u32,
}

fn main() {}
