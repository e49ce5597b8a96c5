//! Every method shape `#[snake::actor]` supports: the generated handle has the documented
//! signatures, and the declaration submitted for the stubs says what Python must define.

use serde::{Deserialize, Serialize};
use snake::schema::{Declarations, Type};
use snake::{HandlerMode, PythonExecutionError, ReplyStream};

/// A request.
#[derive(Serialize, Deserialize, snake::PyMessage)]
pub struct Predict {
    pub text: String,
}

/// A reply.
#[derive(Serialize, Deserialize, snake::PyMessage)]
pub struct Prediction {
    pub label: String,
}

/// Inference over a Python model.
///
/// Second paragraph.
#[snake::actor(module = "models.inference", name = "InferenceProtocol")]
pub trait Inference {
    /// Predicts a label.
    async fn predict(request: Predict) -> Prediction;
    fn tokenize(text: String) -> Vec<String>;
    #[snake(python = "stream_tokens")]
    fn stream(prompt: String) -> snake::Stream<String>;
    /// Items as they come.
    async fn live(prompt: Predict) -> snake::Stream<Prediction>;
    fn nothing(request: ()) -> ();
    fn r#match(request: u8) -> Option<u8>;
}

/// The defaults: module `http_client`, protocol `HttpClient`, no methods at all.
#[snake::actor]
trait HttpClient {}

// The handle's API, checked by the types (never run).
#[allow(dead_code, clippy::unused_async)]
async fn api(builder: snake::PythonChildProcessBuilder) -> Result<(), PythonExecutionError> {
    let inference: Inference = Inference::spawn(builder).await?;
    let copy: Inference = inference.clone();
    let _: Prediction = copy.predict(Predict { text: String::new() }).await?;
    let _: Vec<String> = inference.tokenize(String::new()).await?;
    let _: ReplyStream<String> = inference.stream(String::new()).await?;
    let _: ReplyStream<Prediction> = inference.live(Predict { text: String::new() }).await?;
    let _: () = inference.nothing(()).await?;
    let _: Option<u8> = inference.r#match(1).await?;
    if let Some(actor_ref) = inference.actor_ref() {
        let _ = actor_ref.id();
    }
    let _ = format!("{inference:?}");
    let _: HttpClient =
        HttpClient::spawn(snake::PythonChildProcessBuilder::new(snake::PythonConfig::default())).await?;
    Ok(())
}

fn assert_send<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}

fn main() {
    assert_send::<Inference>();
    assert_send::<HttpClient>();

    let declarations = Declarations::collect();
    let inference = declarations.actors.iter().find(|a| a.name == "InferenceProtocol").expect("declared");
    assert_eq!(inference.module, "models.inference");
    assert_eq!(inference.docs, "Inference over a Python model.\n\nSecond paragraph.");
    let methods: Vec<(&str, HandlerMode)> =
        inference.methods.iter().map(|m| (m.python_name.as_str(), m.mode)).collect();
    assert_eq!(
        methods,
        [
            ("predict", HandlerMode::Async),
            ("tokenize", HandlerMode::Sync),
            ("stream_tokens", HandlerMode::Generator),
            ("live", HandlerMode::AsyncGenerator),
            ("nothing", HandlerMode::Sync),
            ("match", HandlerMode::Sync),
        ]
    );
    assert_eq!(inference.methods[0].docs, "Predicts a label.");
    assert_eq!(inference.methods[0].request, Type::Named("Predict".into()));
    assert_eq!(inference.methods[0].reply, Type::Named("Prediction".into()));
    assert_eq!(inference.methods[1].reply, Type::List(Box::new(Type::Str)));
    assert_eq!(inference.methods[2].reply, Type::Str, "a stream is described by its item");
    assert_eq!(inference.methods[4].request, Type::NoneType);
    assert_eq!(inference.methods[5].reply, Type::Optional(Box::new(Type::int(false, 8))));
    assert!(declarations.registry.get("Predict").is_some());

    let client = declarations.actors.iter().find(|a| a.name == "HttpClient").expect("declared");
    assert_eq!(client.module, "http_client");
    assert!(client.methods.is_empty());

    // The declarations are what the stub generator needs.
    let files = snake::stubs::render(&declarations.registry, &declarations.actors, &declarations.callbacks)
        .expect("stubs render");
    let protocols = &files[snake::stubs::ACTORS_FILE];
    assert!(protocols.contains("class InferenceProtocol(Protocol):"), "{protocols}");
    assert!(protocols.contains("stream_tokens"), "{protocols}");
    assert!(protocols.contains("Predicts a label."), "{protocols}");
}
