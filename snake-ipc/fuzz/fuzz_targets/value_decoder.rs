//! The self-describing body decoder on arbitrary bytes: the tree is read within its depth and
//! node limits, then read back as a type that asks for anything, and as a typical message.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::IgnoredAny;
use snake_ipc::FrameKind;
use snake_ipc::wire;

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
#[allow(dead_code)]
enum Shape {
    Circle { r: f64 },
    Poly { points: Vec<(i32, i32)>, name: Option<String> },
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Message {
    id: u64,
    tags: BTreeMap<String, Vec<Option<i64>>>,
    shape: Shape,
    #[serde(flatten)]
    rest: BTreeMap<String, IgnoredAny>,
}

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode::<IgnoredAny>(data, true, FrameKind::Reply);
    let _ = wire::decode::<Message>(data, true, FrameKind::Call);
    let _ = wire::decode::<Message>(data, false, FrameKind::Call);
});
