//! Remote benchmark (feature `remote`): a call to a Python child served by another node over
//! loopback, beside the same call to a local child and beside kameo's own remote ask of an empty
//! message, all measured in one run.
//!
//! The bench re-executes itself as the hosting node (`--remote-host`): a child process with its
//! own libp2p node on 127.0.0.1, serving one Python child (`echo` in `benches/python/pool_bench.py`)
//! and a plain kameo remote actor that answers an empty message. Printed as one markdown table:
//! p50 and p99 of sequential calls, and calls/s with 256 in flight.
//!
//! `cargo bench -p snake-runtime --features remote --bench remote`; `SNAKE_BENCH_QUICK=1` (or no
//! `--bench`) runs 10x fewer calls. A report, not a test.

use std::error::Error;
use std::future::IntoFuture;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use kameo::actor::{ActorRef, RemoteActorRef, Spawn};
use kameo::message::{Context, Message};
use kameo::{Actor, RemoteActor};
use serde::{Deserialize, Serialize};
use snake::remote::{NodeBuilder, RemotePythonActor};
use snake::{PythonChildProcessBuilder, PythonConfig};

type BoxError = Box<dyn Error>;

#[derive(Clone, Serialize, Deserialize)]
struct Echo {
    id: u64,
    text: String,
}
impl snake::ChildMessage for Echo {
    type Reply = Echo;
}
snake::register_actor!(Echo);

/// kameo's own round trip: an actor that answers an empty message.
#[derive(Actor, RemoteActor)]
#[remote_actor(id = "snake-bench::Pong")]
struct Pong;

#[derive(Serialize, Deserialize)]
struct Ping;

#[kameo::remote_message("snake-bench::Ping")]
impl Message<Ping> for Pong {
    type Reply = ();

    async fn handle(&mut self, _: Ping, _: &mut Context<Self, Self::Reply>) -> Self::Reply {}
}

const NAME: &str = "bench-echo";
const PONG: &str = "bench-pong";
const IN_FLIGHT: usize = 256;

fn quick() -> bool {
    std::env::var("SNAKE_BENCH_QUICK").is_ok_and(|v| v == "1") || !std::env::args().any(|a| a == "--bench")
}

fn builder() -> PythonChildProcessBuilder {
    let config = PythonConfig {
        module_name: "pool_bench".into(),
        function_name: "echo".into(),
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").to_owned(),
        ..PythonConfig::default()
    };
    PythonChildProcessBuilder::new(config)
}

fn echo(id: u64) -> Echo {
    Echo { id, text: "hello".into() }
}

/// p50 and p99 of `samples`, in microseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples.get(((samples.len() as f64 - 1.0) * q) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e6);
    (at(0.5), at(0.99))
}

/// Sequential latency and pipelined throughput of `call`.
async fn measure<F, Fut>(calls: usize, call: F) -> Result<(f64, f64, f64), BoxError>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    for id in 0..(calls / 10).max(10) as u64 {
        call(id).await?;
    }
    let mut samples = Vec::with_capacity(calls);
    for id in 0..calls as u64 {
        let started = Instant::now();
        call(id).await?;
        samples.push(started.elapsed());
    }
    let (p50, p99) = percentiles(samples);
    let total = calls * 4;
    let started = Instant::now();
    let results: Vec<_> = stream::iter(0..total as u64).map(&call).buffer_unordered(IN_FLIGHT).collect().await;
    let rate = total as f64 / started.elapsed().as_secs_f64();
    for result in results {
        result?;
    }
    Ok((p50, p99, rate))
}

async fn host(port: u16) -> Result<(), BoxError> {
    NodeBuilder::new().listen(&format!("/ip4/127.0.0.1/tcp/{port}"))?.start().await?;
    let actor = builder().spawn::<Echo>().await?;
    snake::remote::serve(&actor, NAME).await?;
    let pong = Pong::spawn(Pong);
    pong.register(PONG).await?;
    println!("ready");
    std::future::pending::<()>().await;
    Ok(())
}

#[snake::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--remote-host") {
        let port = args.get(i + 1).and_then(|p| p.parse().ok()).ok_or("--remote-host PORT")?;
        return host(port).await;
    }
    let calls = if quick() { 200 } else { 2000 };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--remote-host", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let result = run(&mut child, port, calls).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn run(child: &mut std::process::Child, port: u16, calls: usize) -> Result<(), BoxError> {
    let stdout = child.stdout.take().ok_or("host stdout")?;
    let ready = tokio::task::spawn_blocking(move || BufReader::new(stdout).lines().next());
    match tokio::time::timeout(Duration::from_secs(60), ready).await {
        Ok(Ok(Some(Ok(line)))) if line == "ready" => {}
        other => return Err(format!("the hosting node did not start: {other:?}").into()),
    }
    NodeBuilder::new().dial(&format!("/ip4/127.0.0.1/tcp/{port}"))?.start().await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (remote, pong) = loop {
        let remote = RemotePythonActor::<Echo>::lookup(NAME).await;
        let pong = RemoteActorRef::<Pong>::lookup(PONG).await;
        match (remote, pong) {
            (Ok(remote), Ok(Some(pong))) => break (remote, pong),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            (remote, pong) => return Err(format!("lookups failed: {:?} / {:?}", remote.err(), pong.err()).into()),
        }
    };
    let local: ActorRef<snake::PythonActor<Echo>> = builder().spawn::<Echo>().await?;

    let check = |reply: Echo, id: u64| if reply.id == id { Ok(()) } else { Err(BoxError::from("wrong reply")) };
    let local_row = measure(calls, |id| {
        let local = local.clone();
        async move { check(local.ask(echo(id)).into_future().await?, id) }
    })
    .await?;
    let remote_row = measure(calls, |id| {
        let remote = remote.clone();
        async move { check(remote.call(echo(id)).await?, id) }
    })
    .await?;
    let kameo_row = measure(calls, |_| {
        let pong = pong.clone();
        async move { Ok(pong.ask(&Ping).await?) }
    })
    .await?;

    println!(
        "| path ({calls} sequential calls; {IN_FLIGHT} in flight for throughput) | p50 | p99 | calls/s pipelined |"
    );
    println!("|---|---|---|---|");
    for (name, (p50, p99, rate)) in [
        ("snake call, local child", local_row),
        ("kameo remote ask, empty message, loopback", kameo_row),
        ("snake remote call, loopback (host's local child)", remote_row),
    ] {
        println!("| {name} | {p50:.1} µs | {p99:.1} µs | {rate:.0} |");
    }
    println!(
        "\nsnake's remote overhead over kameo's empty ask: {:+.1} µs p50 ({:.2}x); over the local call: {:+.1} µs",
        remote_row.0 - kameo_row.0,
        remote_row.0 / kameo_row.0,
        remote_row.0 - local_row.0
    );
    Ok(())
}
