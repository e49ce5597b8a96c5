//! What the service test and the service benchmark share: a server process started on a
//! loopback port (its address read from its stdout, stopped on drop), an HTTP client with a
//! deadline on every request, and the digits the model never saw.

#![allow(dead_code, reason = "each of the test and the benchmark uses a part")]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The examples' Python directory (the service's module, the FastAPI peer).
pub const PYTHON_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python");

/// Deadline of one HTTP request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A server process; stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// `http://IP:PORT`, as the server printed it.
    pub url: String,
}

impl Server {
    /// Starts `command` and waits up to `timeout` for its `listening on http://ADDR` line.
    pub fn start(mut command: Command, timeout: Duration) -> Result<Self, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {command:?}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        // Reads stdout to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let mut server = Self { child: Some(child), url: String::new() };
        match rx.recv_timeout(timeout) {
            Ok(url) => {
                server.url = url;
                Ok(server)
            }
            Err(error) => {
                let status = server.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
                Err(format!("{command:?} printed no address within {timeout:?} ({error}); exit: {status:?}"))
            }
        }
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM and waits up to `timeout` for the server to exit; kills it past that.
    pub fn stop(mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let mut child = self.child.take().ok_or("already stopped")?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the server did not exit within {timeout:?} of SIGTERM; killed"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = Self { child: self.child.take(), url: String::new() }.stop(Duration::from_secs(10));
        }
    }
}

/// A response read to its end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    /// Data frames the body arrived in (more than one when the server streamed it).
    pub frames: usize,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("{e}: {:?}", String::from_utf8_lossy(&self.body[..self.body.len().min(200)])))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// hyper's pooled HTTP/1 client, with a deadline on each request.
#[derive(Clone, Debug)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self { client: Client::builder(TokioExecutor::new()).build(connector) }
    }
}

impl Http {
    pub async fn get(&self, url: &str) -> Result<Reply, String> {
        let request = Request::get(url).body(Full::default()).map_err(|e| e.to_string())?;
        self.send(request).await
    }

    pub async fn post_json(&self, url: &str, body: impl Into<Bytes>) -> Result<Reply, String> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.into()))
            .map_err(|e| e.to_string())?;
        self.send(request).await
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Reply, String> {
        let uri = request.uri().clone();
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| format!("{uri}: {e}"))?;
            let status = response.status();
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let mut body = response.into_body();
            let (mut frames, mut bytes) = (0, Vec::new());
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map_err(|e| format!("{uri}: reading the body: {e}"))?.into_data() {
                    frames += 1;
                    bytes.extend_from_slice(&data);
                }
            }
            Ok(Reply { status, content_type, frames, body: bytes.into() })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{uri}: no reply within {REQUEST_TIMEOUT:?}"))?
    }
}

/// The digits the model never saw (after the first 1500 of scikit-learn's set), with their true
/// labels, from `digits_service.held_out()`.
pub fn held_out() -> Result<(Vec<Vec<f64>>, Vec<u8>), String> {
    let script = "import json, digits_service; print(json.dumps(digits_service.held_out()))";
    let stdout = run_within(
        Command::new("python3").env("PYTHONPATH", PYTHON_DIR).args(["-c", script]),
        Duration::from_secs(60),
    )?;
    serde_json::from_slice(&stdout).map_err(|e| format!("held-out digits: {e}"))
}

/// Runs `command` to its end, up to `timeout`, and returns its stdout.
pub fn run_within(command: &mut Command, timeout: Duration) -> Result<Vec<u8>, String> {
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).spawn().map_err(|e| format!("{command:?}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = tx.send(stdout.read_to_end(&mut out).map(|_| out));
    });
    let out = match rx.recv_timeout(timeout) {
        Ok(out) => out.map_err(|e| e.to_string())?,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{command:?} did not finish within {timeout:?}"));
        }
    };
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{command:?}: {status}"));
    }
    Ok(out)
}

/// Whether a process with this id still exists (a zombie counts as gone).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}
