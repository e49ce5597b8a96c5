//! Message types that postcard alone cannot carry (tagged and untagged enums, `flatten`,
//! `skip_serializing_if`, a struct with a tag) through a real child and back: as a request, a
//! reply, stream items, a callback's argument and its reply. The actor and the callback are
//! written as `#[snake::actor]` and `#[snake::callback]` expand (see `typed.rs`).

use futures_util::StreamExt;
use kameo::actor::ActorRef;
use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};
use snake::__private::{
    ActorSpec, CallbackCodec, CallbackFn, ChildEntry, HandlerMode, MethodCall, MethodCodec, MethodSpec, MethodStream,
    run_callback,
};
use snake::{
    CallbackError, Describe, PyMessage, PythonActor, PythonChildProcessBuilder, PythonConfig, PythonExecutionError,
    ReplyStream,
};

use crate::common::{python_dir, trial};
use crate::messages::{Number, Work};

pub fn trials() -> Vec<Trial> {
    vec![
        trial("wire::only_shapes_postcard_cannot_carry_are_self_describing", self_describing_constants),
        trial("wire::request_and_reply_keep_every_serde_shape", request_and_reply),
        trial("wire::stream_items_keep_every_serde_shape", stream_items),
        trial("wire::callback_argument_and_reply_keep_every_serde_shape", callback),
    ]
}

/// Merged into [`Shapes`] with `flatten`, and the content of [`Internal::Named`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
pub struct Extra {
    pub weight: u32,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
#[serde(tag = "type")]
pub enum Internal {
    Point { x: i32, y: i32 },
    Named(Extra),
    Empty,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
#[serde(tag = "t", content = "c")]
pub enum Adjacent {
    Count(u32),
    Pair(i8, bool),
    Empty,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
#[serde(untagged)]
pub enum Untagged {
    Number(i64),
    Text(String),
    Record { name: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
#[serde(tag = "kind")]
pub struct Tagged {
    pub size: u8,
}

/// Every shape at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
pub struct Shapes {
    pub internal: Vec<Internal>,
    pub adjacent: Vec<Adjacent>,
    pub untagged: Vec<Untagged>,
    #[serde(flatten)]
    pub extra: Extra,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub absent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub present: Option<String>,
    pub tagged: Tagged,
}

/// What a handler answers: the message as Python saw it (`json.dumps` with sorted keys) and
/// the message itself, converted back from Python.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PyMessage)]
pub struct Seen {
    pub shape: String,
    pub back: Shapes,
}

fn sample() -> Shapes {
    Shapes {
        internal: vec![
            Internal::Point { x: 1, y: -2 },
            Internal::Named(Extra { weight: 3, label: "in".into() }),
            Internal::Empty,
        ],
        adjacent: vec![Adjacent::Count(4), Adjacent::Pair(-5, true), Adjacent::Empty],
        untagged: vec![Untagged::Number(6), Untagged::Text("seven".into()), Untagged::Record { name: "eight".into() }],
        extra: Extra { weight: 9, label: "flat".into() },
        absent: None,
        present: Some("here".into()),
        tagged: Tagged { size: 10 },
    }
}

/// `sample()` as `serde_py` gives it to Python: tags inside the dicts, the untagged contents
/// bare, the flattened keys at the top, no `absent` key.
const SAMPLE_IN_PYTHON: &str = concat!(
    r#"{"adjacent": [{"c": 4, "t": "Count"}, {"c": [-5, true], "t": "Pair"}, {"t": "Empty"}], "#,
    r#""internal": [{"type": "Point", "x": 1, "y": -2}, {"label": "in", "type": "Named", "weight": 3}, "#,
    r#"{"type": "Empty"}], "#,
    r#""label": "flat", "present": "here", "tagged": {"kind": "Tagged", "size": 10}, "#,
    r#""untagged": [6, "seven", {"name": "eight"}], "weight": 9}"#,
);

/// The marker type the actor macro generates.
pub struct WireShapesActor;

impl ActorSpec for WireShapesActor {
    const KEY: &'static str = concat!(module_path!(), "::WireShapes");
    const MODULE: &'static str = "wire_shapes";

    fn methods() -> Vec<MethodSpec> {
        let method = |function: &str, mode| MethodSpec {
            function: function.into(),
            mode: Some(mode),
            request_type: None,
            reply_type: None,
            needs_numpy: false,
        };
        vec![
            method("echo", HandlerMode::Sync),
            method("echo_items", HandlerMode::Generator),
            method("via_callback", HandlerMode::Async),
        ]
    }

    fn codecs() -> Vec<MethodCodec> {
        vec![MethodCodec::of::<Shapes, Seen>(), MethodCodec::of::<Shapes, Seen>(), MethodCodec::of::<Shapes, Seen>()]
    }

    fn fingerprint() -> u64 {
        snake::__private::fingerprint(&["wire_shapes", "v1"])
    }
}

snake::__private::inventory::submit! { ChildEntry::typed::<WireShapesActor>() }

/// The typed handle the actor macro generates.
pub struct WireShapes {
    actor: ActorRef<PythonActor<WireShapesActor>>,
}

impl WireShapes {
    pub async fn spawn(builder: PythonChildProcessBuilder) -> Result<Self, PythonExecutionError> {
        Ok(Self { actor: builder.spawn_actor::<WireShapesActor>(false).await? })
    }

    pub async fn echo(&self, request: Shapes) -> Result<Seen, PythonExecutionError> {
        Ok(self.actor.ask(MethodCall::new(0, request)).await?)
    }

    pub async fn echo_items(&self, request: Shapes) -> Result<ReplyStream<Seen>, PythonExecutionError> {
        Ok(self.actor.ask(MethodStream::new(1, request)).await?)
    }

    pub async fn via_callback(&self, request: Shapes) -> Result<Seen, PythonExecutionError> {
        Ok(self.actor.ask(MethodCall::new(2, request)).await?)
    }
}

/// The callback, as `#[snake::callback] fn wire_reflect(shapes: Shapes) -> Shapes` expands: it
/// changes which optional keys are present and adds an untagged item.
fn wire_reflect(mut shapes: Shapes) -> Shapes {
    shapes.absent = Some("from rust".into());
    shapes.present = None;
    shapes.untagged.push(Untagged::Record { name: "rust".into() });
    shapes
}

fn wire_reflect_name() -> &'static str {
    "wire_reflect"
}

snake::__private::inventory::submit! {
    CallbackFn {
        name: "wire_reflect",
        codec: CallbackCodec::of::<Shapes, Shapes>(wire_reflect_name),
        call: |_states, arg| {
            run_callback("wire_reflect", &arg, |shapes: Shapes| async move {
                Ok::<_, CallbackError>(wire_reflect(shapes))
            })
        },
    }
}

fn builder() -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(PythonConfig {
        module_path: python_dir().display().to_string(),
        ..Default::default()
    })
}

async fn self_describing_constants() {
    for (name, self_describing) in [
        ("Internal", Internal::SELF_DESCRIBING),
        ("Adjacent", Adjacent::SELF_DESCRIBING),
        ("Untagged", Untagged::SELF_DESCRIBING),
        ("Tagged", Tagged::SELF_DESCRIBING),
        ("Shapes", Shapes::SELF_DESCRIBING),
        ("Seen", Seen::SELF_DESCRIBING),
        ("Vec<Untagged>", <Vec<Untagged>>::SELF_DESCRIBING),
    ] {
        assert!(self_describing, "{name} needs the self-describing form");
    }
    // Plain shapes stay plain postcard (the `typed` trials send these).
    for (name, self_describing) in [
        ("Extra", Extra::SELF_DESCRIBING),
        ("Work", Work::SELF_DESCRIBING),
        ("Number", Number::SELF_DESCRIBING),
        ("Option<Vec<Extra>>", <Option<Vec<Extra>>>::SELF_DESCRIBING),
    ] {
        assert!(!self_describing, "{name} is plain postcard");
    }
}

async fn request_and_reply() {
    let actor = WireShapes::spawn(builder()).await.expect("spawn");
    let seen = actor.echo(sample()).await.expect("echo");
    assert_eq!(seen.shape, SAMPLE_IN_PYTHON);
    assert_eq!(seen.back, sample());

    // The other branch of each optional key, and of each enum, on a second call.
    let mut other = sample();
    other.absent = Some("now set".into());
    other.present = None;
    other.internal.reverse();
    other.untagged = vec![Untagged::Text("6".into())];
    let seen = actor.echo(other.clone()).await.expect("echo");
    assert!(seen.shape.contains(r#""absent": "now set""#), "{}", seen.shape);
    assert!(!seen.shape.contains(r#""present""#), "{}", seen.shape);
    assert!(seen.shape.contains(r#""untagged": ["6"]"#), "{}", seen.shape);
    assert_eq!(seen.back, other);
}

async fn stream_items() {
    let actor = WireShapes::spawn(builder()).await.expect("spawn");
    let items: Vec<Seen> =
        actor.echo_items(sample()).await.expect("open").map(|item| item.expect("item")).collect().await;
    assert_eq!(items.len(), 2);
    for (i, seen) in items.into_iter().enumerate() {
        assert_eq!(seen.shape, SAMPLE_IN_PYTHON);
        let mut expected = sample();
        expected.tagged.size += u8::try_from(i).expect("small");
        assert_eq!(seen.back, expected, "item {i}");
    }
}

async fn callback() {
    let actor = WireShapes::spawn(builder()).await.expect("spawn");
    let seen = actor.via_callback(sample()).await.expect("via callback");
    // What Python got back from the Rust callback.
    let expected = wire_reflect(sample());
    assert!(seen.shape.contains(r#""absent": "from rust""#), "{}", seen.shape);
    assert!(!seen.shape.contains(r#""present""#), "{}", seen.shape);
    assert!(seen.shape.contains(r#""untagged": [6, "seven", {"name": "eight"}, {"name": "rust"}]"#), "{}", seen.shape);
    assert_eq!(seen.back, expected);
}
