//! The service example against its Python peer: the same model, the same worker count, the same
//! requests, over loopback, in one run.
//!
//! Starts the snake service (`examples/src/bin/service.rs`, the bench build) and the FastAPI peer
//! (`examples/python/service_fastapi.py` on uvicorn) with one worker process per core each, waits
//! until every worker of both has trained, then for each batch size sends `REQUESTS` `POST
//! /predict` requests of held-out digits, `CONCURRENCY` at a time, from a hyper client in this
//! process, after a warm-up. Every reply is checked (status and label count). Prints one markdown
//! table: requests per second and the p50/p99 latency each client saw. The order of the two
//! servers alternates per batch size. A report, not a test.
//!
//! `cargo bench -p snake-examples --bench service` (needs `pip install 'python[service]'`);
//! `SNAKE_BENCH_QUICK=1` (or no `--bench`) sends 10x fewer requests.

#[path = "../tests/support/mod.rs"]
mod support;

use std::error::Error;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use hyper::body::Bytes;
use support::{Http, PYTHON_DIR, Server, held_out};

const CONCURRENCY: usize = 16;
const BATCHES: [usize; 2] = [1, 32];
const REQUESTS: usize = 4000;
const WARMUP: usize = 400;

fn quick() -> bool {
    std::env::var("SNAKE_BENCH_QUICK").is_ok_and(|v| v == "1") || !std::env::args().any(|a| a == "--bench")
}

/// What one server did with one batch size.
struct Measured {
    server: &'static str,
    batch: usize,
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Sends `requests` requests of `body`, `CONCURRENCY` at a time; every reply must be a 200 with
/// `batch` labels.
async fn drive(
    http: &Http,
    server: &'static str,
    url: &str,
    body: &Bytes,
    batch: usize,
    requests: usize,
) -> Result<Measured, String> {
    let endpoint = format!("{url}/predict");
    let started = Instant::now();
    let replies: Vec<_> = stream::iter(0..requests)
        .map(|_| async {
            let sent = Instant::now();
            let reply = http.post_json(&endpoint, body.clone()).await;
            (sent.elapsed(), reply)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut latencies = Vec::with_capacity(requests);
    for (latency, reply) in replies {
        let reply = reply?;
        let labels = reply.json()?["labels"].as_array().map_or(0, Vec::len);
        if reply.status != 200 || labels != batch {
            return Err(format!("{server}: {} with {labels} labels: {}", reply.status, reply.text()));
        }
        latencies.push(latency);
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1];
    Ok(Measured {
        server,
        batch,
        requests,
        per_second: requests as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    })
}

/// Waits until `/health` has answered from `workers` distinct processes (uvicorn's workers
/// share one socket and train at startup each; the first to finish would otherwise take all).
async fn fastapi_ready(url: &str, workers: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < workers {
        if Instant::now() > deadline {
            return Err(format!("FastAPI: {} of {workers} workers ready after 180 s", seen.len()));
        }
        // A fresh connection each time, so the kernel may hand it to another worker.
        if let Ok(reply) = Http::default().get(&format!("{url}/health")).await
            && reply.status == 200
            && let Some(pid) = reply.json()?["pid"].as_u64()
        {
            seen.insert(pid);
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let quick = quick();
    let (requests, warmup) = if quick { (REQUESTS / 10, WARMUP / 10) } else { (REQUESTS, WARMUP) };
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (images, _) = held_out()?;

    let mut snake = Command::new(env!("CARGO_BIN_EXE_service"));
    snake.args(["--addr", "127.0.0.1:0", "--workers", &workers.to_string()]).env("RUST_LOG", "warn");
    let snake = Server::start(snake, Duration::from_secs(180))?;
    let mut fastapi = Command::new("python3");
    fastapi.arg(format!("{PYTHON_DIR}/service_fastapi.py")).args([
        "--addr",
        "127.0.0.1:0",
        "--workers",
        &workers.to_string(),
    ]);
    let fastapi = Server::start(fastapi, Duration::from_secs(60))?;
    let http = Http::default();
    fastapi_ready(&fastapi.url, workers).await?;

    let mut rows = Vec::new();
    for (round, batch) in BATCHES.into_iter().enumerate() {
        let body = Bytes::from(serde_json::to_vec(&serde_json::json!({ "images": &images[..batch] }))?);
        let mut servers = [("snake (axum + pool)", &snake.url), ("FastAPI (uvicorn)", &fastapi.url)];
        if round % 2 == 1 {
            servers.reverse();
        }
        for (name, url) in servers {
            drive(&http, name, url, &body, batch, warmup).await?;
            rows.push(drive(&http, name, url, &body, batch, requests).await?);
        }
    }
    snake.stop(Duration::from_secs(30))?;
    fastapi.stop(Duration::from_secs(30))?;

    println!(
        "\nPOST /predict over loopback, {workers} worker processes each, {CONCURRENCY} requests in flight{}:\n",
        if quick { " (quick run: figures are rough)" } else { "" }
    );
    println!("| server | images per request | requests | req/s | p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    rows.sort_by_key(|m| (m.batch, m.server));
    for m in &rows {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} |",
            m.server,
            m.batch,
            m.requests,
            m.per_second,
            ms(m.p50),
            ms(m.p99)
        );
    }
    Ok(())
}
