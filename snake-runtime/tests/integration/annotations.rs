//! The startup check of handler annotations: a handler annotated with other types than the
//! declaration names is refused at spawn, before any call (`tests/python/annotated_*.py`).

use futures_util::StreamExt;
use libtest_mimic::Trial;
use snake::{PythonChildProcessBuilder, PythonConfig, PythonExecutionError};

use crate::common::{python_dir, trial};
use crate::macros::{Greeted, Greeting, Tick};

pub fn trials() -> Vec<Trial> {
    vec![
        trial("annotations::matching_annotations_spawn", matching),
        trial("annotations::wrong_request_annotation_is_refused", wrong_request),
        trial("annotations::wrong_reply_annotation_is_refused", wrong_reply),
        trial("annotations::string_annotations_are_checked", strings),
        trial("annotations::undecidable_annotations_are_accepted", undecidable),
        trial("annotations::mismatch_is_checked_before_the_kind", kind_first),
    ]
}

/// Handlers whose annotations the child compares with these types.
#[snake::actor(module = "annotated_ok")]
pub trait Annotations {
    fn greet(request: Greeting) -> Greeted;
    async fn greet_async(request: Greeting) -> Greeted;
    fn ticks(count: u32) -> snake::Stream<Tick>;
    #[snake(python = "async_ticks")]
    async fn ticks_async(count: u32) -> snake::Stream<Tick>;
    fn maybe(request: Option<Greeting>) -> Vec<Tick>;
}

fn builder(module: &str) -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(PythonConfig {
        module_path: python_dir().display().to_string(),
        module_name: module.to_owned(),
        ..Default::default()
    })
}

fn mismatch(err: PythonExecutionError) -> (String, String, String, String, String) {
    match err {
        PythonExecutionError::AnnotationMismatch { module, function, what, declared, annotated } => {
            (module, function, what, declared, annotated)
        }
        other => panic!("expected an annotation mismatch, got {other:?}"),
    }
}

fn owned(fields: [&str; 5]) -> (String, String, String, String, String) {
    let [a, b, c, d, e] = fields.map(str::to_owned);
    (a, b, c, d, e)
}

async fn calls_work(actor: &Annotations) {
    let greeted = actor.greet(Greeting { name: "ada".into(), times: 2 }).await.expect("greet");
    assert_eq!(greeted.length, 2);
    let items: Vec<Tick> = actor.ticks(3).await.expect("open").map(|item| item.expect("item")).collect().await;
    assert_eq!(items.len(), 3);
    assert_eq!(actor.maybe(None).await.expect("maybe"), []);
}

async fn matching() {
    let actor = Annotations::spawn(builder("annotated_ok")).await.expect("correctly annotated");
    calls_work(&actor).await;
    let greeted = actor.greet_async(Greeting { name: "bob".into(), times: 7 }).await.expect("greet_async");
    assert_eq!(greeted, Greeted { text: "hi bob".into(), length: 7 });
    let items: Vec<Tick> = actor.ticks_async(2).await.expect("open").map(|item| item.expect("item")).collect().await;
    assert_eq!(items.len(), 2);
}

async fn wrong_request() {
    let err = Annotations::spawn(builder("annotated_wrong_request")).await.expect_err("greet takes a Tokenize");
    assert_eq!(err.kind(), "annotation_mismatch");
    assert_eq!(
        err.to_string(),
        "annotated_wrong_request.greet annotates its request as `Tokenize`, but Rust declares `Greeting`"
    );
    assert_eq!(mismatch(err), owned(["annotated_wrong_request", "greet", "request", "Greeting", "Tokenize"]));
}

async fn wrong_reply() {
    let err = Annotations::spawn(builder("annotated_wrong_reply")).await.expect_err("ticks yields Greeted");
    assert_eq!(mismatch(err), owned(["annotated_wrong_reply", "ticks", "reply", "Tick", "Greeted"]));
}

async fn strings() {
    let err = Annotations::spawn(builder("annotated_strings")).await.expect_err("greet_async returns a Greeting");
    assert_eq!(mismatch(err), owned(["annotated_strings", "greet_async", "reply", "Greeted", "Greeting"]));
}

async fn undecidable() {
    let actor = Annotations::spawn(builder("annotated_unchecked")).await.expect("nothing to decide");
    calls_work(&actor).await;
}

/// The same module declared with `greet` as `async def`: the kind is checked first.
#[snake::actor(module = "annotated_wrong_request")]
pub trait AnnotatedAsync {
    async fn greet(request: Greeting) -> Greeted;
}

async fn kind_first() {
    let err = AnnotatedAsync::spawn(builder("annotated_wrong_request")).await.expect_err("greet is a plain def");
    assert_eq!(err.kind(), "handler_mismatch", "{err:?}");
}
