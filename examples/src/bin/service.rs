//! A real service: HTTP JSON on axum in front of a pool of Python workers running scikit-learn.
//!
//! ```sh
//! python3 -m pip install --editable 'python[service]'   # scikit-learn (and the FastAPI peer)
//! cargo run --release -p snake-examples --bin service -- --addr 127.0.0.1:8000 --workers 2
//! curl -s localhost:8000/health
//! ```
//!
//! Each worker trains a classifier on the digits data set scikit-learn ships at warmup
//! (`examples/python/digits_service.py`, `train`), before it takes calls. Endpoints:
//!
//! - `POST /predict` `{"images": [[64 grey levels 0..=16], ...]}` -> `{"labels": [..], "probabilities": [..]}`;
//! - `POST /predict/stream`, the same request -> one JSON line per image as the model gets to it
//!   (`application/x-ndjson`, from a Python generator);
//! - `GET /health`: 200 when a worker is warm, 503 otherwise, with each worker's state;
//! - `GET /metrics`: the pool's metrics in the Prometheus text format.
//!
//! A request of the wrong shape is a 400, a Python exception a 500, no worker available a 503 and a
//! call past its deadline a 504, each with `{"error": .., "kind": ..}` (and the exception's
//! `type`). The bound address is printed as one line on stdout (`listening on http://ADDR`);
//! Ctrl-C or SIGTERM stops taking connections, lets requests finish (up to 10 s), then stops the
//! workers gracefully.

use std::convert::Infallible;
use std::error::Error;
use std::fmt::Write as _;
use std::future::IntoFuture;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use snake::{MetricsSnapshot, PythonChildProcessBuilder, PythonConfig, PythonExecutionError, WorkerState};

/// A batch of 8x8 images of handwritten digits.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct DigitBatch {
    /// Each image's 64 grey levels (0 to 16), row by row.
    pub images: Vec<Vec<f64>>,
}

/// The model's answer for a batch, in the order of its images.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Predictions {
    /// The most likely digit of each image.
    pub labels: Vec<u8>,
    /// The probability the model gives that digit.
    pub probabilities: Vec<f64>,
}

/// The model's answer for one image of a batch.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Prediction {
    /// The image's position in the batch.
    pub index: u32,
    /// The most likely digit.
    pub label: u8,
    /// The probability the model gives that digit.
    pub probability: f64,
}

/// A digit classifier in scikit-learn (`examples/python/digits_service.py`), trained at warmup.
#[snake::actor(module = "digits_service")]
pub trait DigitsModel {
    /// Classifies a batch of 8x8 digit images.
    fn predict(request: DigitBatch) -> Predictions;
    /// Classifies a batch of digit images, yielding each result as soon as its chunk is done.
    fn predict_stream(request: DigitBatch) -> snake::Stream<Prediction>;
}

/// Grey levels per image.
const PIXELS: usize = 64;
/// Images per request at most (about 400 KB of JSON).
const MAX_BATCH: usize = 1024;
/// Time to finish the requests in flight after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// What the command line (or the environment) asks for.
#[derive(Debug)]
struct Options {
    addr: SocketAddr,
    workers: usize,
}

const USAGE: &str = "usage: service [--addr IP:PORT] [--workers N]
  --addr     address to listen on (env SERVICE_ADDR; default 127.0.0.1:8000, port 0 picks one)
  --workers  Python worker processes (env SERVICE_WORKERS; default one per core)";

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut addr = std::env::var("SERVICE_ADDR").unwrap_or_else(|_| "127.0.0.1:8000".into());
        let mut workers = std::env::var("SERVICE_WORKERS").ok();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{name} needs a value"));
            match name.as_str() {
                "--addr" => addr = value()?,
                "--workers" => workers = Some(value()?),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        let addr = addr.parse().map_err(|e| format!("--addr `{addr}`: {e}"))?;
        let workers = match workers {
            None => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            Some(n) => match n.parse() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("--workers `{n}`: expected a positive number")),
            },
        };
        Ok(Self { addr, workers })
    }
}

/// Everything a request can fail with, as the client sees it.
#[derive(Debug)]
enum ApiError {
    /// The request is not a batch of images of the right shape.
    BadRequest(String),
    /// The call to Python failed.
    Python(PythonExecutionError),
    /// Python answered something the service cannot use.
    Internal(String),
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<PythonExecutionError> for ApiError {
    fn from(error: PythonExecutionError) -> Self {
        Self::Python(error)
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Python(
                PythonExecutionError::NoWorkerAvailable { .. }
                | PythonExecutionError::RestartLimitReached { .. }
                | PythonExecutionError::ActorStopping
                | PythonExecutionError::ActorStopped,
            ) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Python(PythonExecutionError::CallTimedOut { .. }) => StatusCode::GATEWAY_TIMEOUT,
            Self::Python(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// `{"error", "kind"}`, plus the exception's `type` when Python raised. Tracebacks stay in
    /// the service's log.
    fn body(&self) -> serde_json::Value {
        match self {
            Self::BadRequest(message) => serde_json::json!({ "error": message, "kind": "bad_request" }),
            Self::Internal(message) => serde_json::json!({ "error": message, "kind": "internal" }),
            Self::Python(error) => match error.python_exception() {
                Some(exception) => serde_json::json!({
                    "error": exception.message,
                    "kind": error.kind(),
                    "type": exception.type_name,
                }),
                None => serde_json::json!({ "error": error.to_string(), "kind": error.kind() }),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Python(error) => {
                let traceback = error.python_exception().map(|e| e.traceback.as_str()).unwrap_or_default();
                tracing::warn!(kind = error.kind(), "{error}\n{traceback}");
            }
            Self::Internal(message) => tracing::error!("{message}"),
            Self::BadRequest(_) => {}
        }
        (self.status(), Json(self.body())).into_response()
    }
}

/// Checks the shape Rust can check: the model's own rules (grey levels) are Python's.
fn validate(batch: &DigitBatch) -> Result<(), ApiError> {
    if batch.images.is_empty() {
        return Err(ApiError::BadRequest("`images` is empty".into()));
    }
    if batch.images.len() > MAX_BATCH {
        return Err(ApiError::BadRequest(format!("{} images in one request; at most {MAX_BATCH}", batch.images.len())));
    }
    match batch.images.iter().position(|image| image.len() != PIXELS) {
        Some(index) => Err(ApiError::BadRequest(format!(
            "images[{index}] has {} values, expected {PIXELS} (8x8 grey levels)",
            batch.images[index].len()
        ))),
        None => Ok(()),
    }
}

async fn predict(
    State(model): State<DigitsModel>,
    request: Result<Json<DigitBatch>, JsonRejection>,
) -> Result<Json<Predictions>, ApiError> {
    let Json(batch) = request?;
    validate(&batch)?;
    Ok(Json(model.predict(batch).await?))
}

/// Streams one JSON line per image. The first item is awaited before answering, so a request
/// Python refuses gets an error status; a failure later ends the body with an error line.
async fn predict_stream(
    State(model): State<DigitsModel>,
    request: Result<Json<DigitBatch>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(batch) = request?;
    validate(&batch)?;
    let mut items = model.predict_stream(batch).await?;
    let first = match items.next().await {
        Some(Ok(first)) => first,
        Some(Err(error)) => return Err(error.into()),
        None => return Err(ApiError::Internal("predict_stream yielded nothing for a non-empty batch".into())),
    };
    let lines = futures_util::stream::once(async move { Ok(first) }).chain(items).map(|item| {
        let mut line = match item {
            Ok(prediction) => serde_json::to_vec(&prediction),
            Err(error) => serde_json::to_vec(&ApiError::Python(error).body()),
        }
        .unwrap_or_else(|e| ApiError::Internal(format!("encoding a line failed: {e}")).body().to_string().into_bytes());
        line.push(b'\n');
        Ok::<_, Infallible>(Bytes::from(line))
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response())
}

/// Ready when at least one worker can take calls (a recycling worker still serves).
async fn health(State(model): State<DigitsModel>) -> Response {
    let metrics = match model.metrics().await {
        Ok(metrics) => metrics,
        Err(error) => return ApiError::Python(error).into_response(),
    };
    let serving = |state| matches!(state, WorkerState::Warm | WorkerState::Recycling);
    let ready = metrics.workers.iter().filter(|w| serving(w.state)).count();
    let workers: Vec<_> = metrics
        .workers
        .iter()
        .map(|w| {
            serde_json::json!({
                "slot": w.slot, "state": w.state, "pid": w.pid, "in_flight": w.in_flight,
                "served": w.served, "restarts": w.restarts, "rss_bytes": w.rss,
            })
        })
        .collect();
    let status = if ready > 0 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({
        "status": if ready > 0 { "ready" } else { "unavailable" },
        "ready_workers": ready,
        "workers": workers,
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(model): State<DigitsModel>) -> Response {
    match model.metrics().await {
        Ok(metrics) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], prometheus(&metrics)).into_response()
        }
        Err(error) => ApiError::Python(error).into_response(),
    }
}

/// A label value in the Prometheus text format.
fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// Text in the Prometheus exposition format (version 0.0.4), one metric family at a time.
#[derive(Default)]
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: impl IntoIterator<Item = (String, String)>) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.sample(name, &labels, &value);
        }
    }

    fn sample(&mut self, name: &str, labels: &str, value: &str) {
        let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
    }
}

/// The pool's metrics in the Prometheus text format.
fn prometheus(m: &MetricsSnapshot) -> String {
    let actor = format!("actor=\"{}\"", escape(&m.actor));
    let one = |value: &dyn ToString| [(actor.clone(), value.to_string())];
    let mut out = Exposition::default();
    out.family("snake_calls_total", "counter", "Calls and streams sent to the Python workers.", one(&m.calls));
    out.family("snake_calls_ok_total", "counter", "Calls answered, and streams ended, without an error.", one(&m.ok));
    let errors = m.errors.iter().map(|(kind, n)| (format!("{actor},kind=\"{}\"", escape(kind)), n.to_string()));
    out.family("snake_call_errors_total", "counter", "Failed calls by error kind.", errors);
    out.family("snake_calls_in_flight", "gauge", "Calls sent and not yet finished.", one(&m.in_flight));
    out.family("snake_restarts_total", "counter", "Workers replaced after they died.", one(&m.restarts));
    out.family("snake_recycles_total", "counter", "Workers replaced gracefully.", one(&m.recycles));

    let l = &m.latency;
    let seconds = |us: u64| format!("{:.6}", us as f64 / 1e6);
    let quantiles = [("0.5", l.p50), ("0.9", l.p90), ("0.99", l.p99), ("1", l.max)]
        .map(|(q, us)| (format!("{actor},quantile=\"{q}\""), seconds(us)));
    let help = "Latency of finished calls (streams: to their end); quantiles from a histogram.";
    out.family("snake_call_duration_seconds", "summary", help, quantiles);
    out.sample("snake_call_duration_seconds_sum", &actor, &seconds(l.mean.saturating_mul(l.count)));
    out.sample("snake_call_duration_seconds_count", &actor, &l.count.to_string());

    let states = [
        (WorkerState::Starting, "starting"),
        (WorkerState::Warm, "warm"),
        (WorkerState::Recycling, "recycling"),
        (WorkerState::Restarting, "restarting"),
        (WorkerState::Failed, "failed"),
    ];
    let slot = |w: &snake::WorkerStatus| format!("{actor},slot=\"{}\"", w.slot);
    let state = m.workers.iter().flat_map(|w| {
        states.map(|(state, name)| (format!("{},state=\"{name}\"", slot(w)), u8::from(w.state == state).to_string()))
    });
    out.family("snake_worker_state", "gauge", "1 for the state each worker slot is in.", state);
    let per_worker = |value: fn(&snake::WorkerStatus) -> Option<u64>| {
        m.workers.iter().filter_map(move |w| Some((slot(w), value(w)?.to_string()))).collect::<Vec<_>>()
    };
    out.family(
        "snake_worker_in_flight",
        "gauge",
        "Calls in flight on each worker.",
        per_worker(|w| u64::try_from(w.in_flight).ok()),
    );
    out.family(
        "snake_worker_served_total",
        "counter",
        "Calls and streams sent to each slot's current worker.",
        per_worker(|w| Some(w.served)),
    );
    out.family(
        "snake_worker_resident_memory_bytes",
        "gauge",
        "Resident memory of each worker at its last sample.",
        per_worker(|w| w.rss),
    );
    out.family(
        "snake_worker_restarts_total",
        "counter",
        "Restarts of each worker slot.",
        per_worker(|w| Some(w.restarts)),
    );
    out.family(
        "snake_worker_recycles_total",
        "counter",
        "Graceful replacements in each worker slot.",
        per_worker(|w| Some(w.recycles)),
    );
    out.0
}

fn router(model: DigitsModel) -> axum::Router {
    axum::Router::new()
        .route("/predict", post(predict))
        .route("/predict/stream", post(predict_stream))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(model)
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!("no SIGTERM handler ({error}); stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[snake::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("service: {message}");
            }
            eprintln!("{USAGE}");
            std::process::exit(if message.is_empty() { 0 } else { 2 });
        }
    };

    let config = PythonConfig {
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/python").into(),
        // One process per core already: BLAS and OpenMP threads inside each would only contend.
        env_vars: ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]
            .map(|name| (name.to_owned(), "1".to_owned()))
            .to_vec(),
        ..PythonConfig::default()
    };
    let builder = PythonChildProcessBuilder::new(config)
        .workers(options.workers)
        .sync_workers(1)
        .warmup("train", Duration::from_secs(120))
        .call_timeout(Duration::from_secs(30))
        .max_rss(1 << 30);
    let model = DigitsModel::pool(builder).await?;
    tracing::info!(workers = options.workers, "the model is trained in every worker");

    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(model.clone())).with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    let mut server = tokio::spawn(server.into_future());
    tokio::select! {
        served = &mut server => served??,
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing the requests in flight");
            let _ = stop.send(());
            match tokio::time::timeout(DRAIN, &mut server).await {
                Ok(served) => served??,
                Err(_) => {
                    tracing::warn!("requests still running after {DRAIN:?}; closing them");
                    server.abort();
                }
            }
        }
    }
    // A handle made by `DigitsModel::pool` always has its local actor.
    if let Some(actor) = model.actor_ref() {
        actor.stop_gracefully().await?;
        if tokio::time::timeout(Duration::from_secs(15), actor.wait_for_shutdown_result()).await.is_err() {
            tracing::warn!("the workers did not stop within 15 s");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn options_take_flags_in_both_spellings_and_refuse_nonsense() {
        let options = parse(&["--addr", "127.0.0.1:0", "--workers=3"]).expect("valid");
        assert_eq!((options.addr.to_string().as_str(), options.workers), ("127.0.0.1:0", 3));
        assert_eq!(parse(&["--workers", "0"]).expect_err("zero").as_str(), "--workers `0`: expected a positive number");
        assert_eq!(parse(&["--addr"]).expect_err("no value").as_str(), "--addr needs a value");
        assert_eq!(parse(&["--port", "1"]).expect_err("unknown").as_str(), "unknown argument `--port`");
    }

    #[test]
    fn a_batch_of_the_wrong_shape_is_refused_with_the_image_named() {
        let batch = |images: Vec<Vec<f64>>| DigitBatch { images };
        assert!(validate(&batch(vec![vec![0.0; PIXELS]; 2])).is_ok());
        let refused = |b: DigitBatch| match validate(&b) {
            Err(ApiError::BadRequest(message)) => message,
            other => panic!("expected a bad request, got {other:?}"),
        };
        assert_eq!(refused(batch(vec![])), "`images` is empty");
        assert_eq!(
            refused(batch(vec![vec![0.0; PIXELS], vec![0.0; 63]])),
            "images[1] has 63 values, expected 64 (8x8 grey levels)"
        );
        assert_eq!(refused(batch(vec![vec![0.0; PIXELS]; MAX_BATCH + 1])), "1025 images in one request; at most 1024");
    }

    #[test]
    fn errors_map_to_statuses_clients_can_act_on() {
        let status = |e: PythonExecutionError| ApiError::Python(e).status();
        assert_eq!(status(PythonExecutionError::NoWorkerAvailable { waited: Duration::ZERO }), 503);
        assert_eq!(status(PythonExecutionError::CallTimedOut { timeout: Duration::ZERO }), 504);
        assert_eq!(status(PythonExecutionError::Cancelled), 500);
        let body = ApiError::Python(PythonExecutionError::Cancelled).body();
        assert_eq!(body, serde_json::json!({ "error": "the python call was cancelled", "kind": "cancelled" }));
    }

    #[test]
    fn prometheus_label_values_are_escaped() {
        assert_eq!(escape("a \"b\"\\\n"), r#"a \"b\"\\\n"#);
    }
}
