//! The message types the tests send, each registered so the test binary can serve it as a child.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use snake::{ChildMessage, PyMessage};

macro_rules! message {
    ($msg:ty => $reply:ty) => {
        impl ChildMessage for $msg {
            type Reply = $reply;
        }
        snake::register_actor!($msg);
    };
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub text: String,
}
message!(Text => Text);

/// Listed in `setup_python_subprocess_system!` rather than registered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    pub n: i64,
}
impl ChildMessage for Listed {
    type Reply = Listed;
}

/// Not registered anywhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unregistered;
impl ChildMessage for Unregistered {
    type Reply = ();
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    Point,
    Circle(f64),
    Segment(i32, i32),
    Rect { w: u16, h: u16 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Leaf {
    pub name: String,
    pub tags: BTreeSet<String>,
    pub shape: Shape,
    pub weight: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    pub leaves: Vec<Leaf>,
    pub index: BTreeMap<String, Vec<Option<Leaf>>>,
    pub by_id: BTreeMap<u32, (i8, u64, char)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub root: Branch,
    pub children: Vec<Tree>,
    pub raw: Vec<u8>,
    pub big: i128,
    pub flag: bool,
    pub unit: (),
}
message!(Tree => Tree);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Jitter {
    pub id: u64,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JitterReply {
    pub id: u64,
    pub doubled: u64,
    pub tag: String,
}
message!(Jitter => JitterReply);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
pub struct Work {
    pub id: u64,
    pub slow: bool,
    pub seconds: f64,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
pub struct WorkReply {
    pub id: u64,
    pub peak: u32,
}
message!(Work => WorkReply);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores;
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub score: f64,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub items: Vec<Item>,
}
message!(Scores => Report);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    pub code: i32,
    pub delay: f64,
}
message!(Exit => ());

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hang {
    pub id: u64,
    pub report: bool,
}
message!(Hang => Vec<u64>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lines {
    pub lines: u32,
}
message!(Lines => u32);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetPrefix;
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prefix {
    pub prefix: String,
    pub executable: String,
    pub version: String,
}
message!(GetPrefix => Prefix);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetEnv;
message!(GetEnv => Vec<String>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Big {
    pub size: u64,
}
message!(Big => String);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Corrupt;
message!(Corrupt => ());

// ---- callbacks ----

macro_rules! calling_back {
    ($msg:ty => $reply:ty) => {
        impl ChildMessage for $msg {
            type Reply = $reply;
        }
        snake::register_actor!($msg, Cb);
    };
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub key: String,
    pub depth: u32,
    pub tags: Vec<String>,
    pub nested: Option<Box<Query>>,
    pub weights: BTreeMap<String, f64>,
}
calling_back!(Query => CbReply);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub key: String,
    pub score: f64,
    pub path: Vec<String>,
    pub counts: BTreeMap<String, i64>,
    pub flags: (bool, Option<u8>),
}

/// What Python sends to the Rust callback handler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cb {
    Lookup { query: Query },
    Echo { key: String },
    Fail { message: String },
    Reenter { depth: u32 },
    Wait {},
    Count { n: u64, fail_at: Option<u64> },
    Measure { data: snake::SharedBytes },
    Chunks { n: u64, size: u64 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CbReply {
    Answer(Answer),
    Text(String),
    Depths(Vec<u32>),
    Data(snake::SharedBytes),
}

impl snake::ChildCallbackMessage for Cb {
    type Reply = CbReply;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FanOut {
    pub id: u64,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fanned {
    pub key: String,
    pub answer: String,
}
calling_back!(FanOut => Vec<Fanned>);

/// How many bytes Python builds and passes to the `Measure` callback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasureCb {
    pub size: u64,
}
calling_back!(MeasureCb => CbReply);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailWith {
    pub text: String,
}
calling_back!(FailWith => CbReply);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reenter {
    pub depth: u32,
}
calling_back!(Reenter => Vec<u32>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateMsg {
    pub wait: bool,
}
calling_back!(GateMsg => String);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Late {
    pub report: bool,
    pub sleep: f64,
}
calling_back!(Late => Vec<String>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamBack {
    pub n: u64,
}
calling_back!(StreamBack => Vec<String>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoCb;
message!(NoCb => String);

// ---- streams ----

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
pub struct Count {
    pub n: u64,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
pub struct StreamItem {
    pub index: u64,
    pub at: f64,
}
message!(Count => StreamItem);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failing {
    pub n: u64,
    pub fail_at: u64,
}
message!(Failing => StreamItem);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endless {
    pub marker: String,
}
message!(Endless => StreamItem);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
pub struct Number {
    pub n: i64,
}

/// What a handler saw of Python's OpenTelemetry context.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub installed: bool,
    pub trace_id: String,
    pub span_id: String,
}

/// A `Query` whose handler reports its OpenTelemetry context.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeQuery(pub Query);
calling_back!(ProbeQuery => Probe);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Die {
    pub code: i32,
}
message!(Die => u32);

/// A job for `pools.work`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolJob {
    pub op: String,
    pub n: i64,
    pub path: String,
}
message!(PoolJob => Outcome);

impl PoolJob {
    pub fn new(op: &str, n: i64) -> Self {
        Self { op: op.into(), n, path: String::new() }
    }
}

/// Which worker ran a `PoolJob`, and its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub pid: u32,
    pub value: i64,
}
