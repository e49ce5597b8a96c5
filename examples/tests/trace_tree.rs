//! Runs the `trace_tree` example against a fake OTLP collector on loopback and checks both what
//! it prints and what it sends.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Generous: the machine is shared, and the example starts a Python child.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REQUEST: usize = 4 * 1024 * 1024;

const ROOT: &str = "trace_tree.request";
const HANDLER: &str = "visitor_book.lookup";
/// Each span of the call path is the parent of the next.
const CHAIN: [&str; 6] = [ROOT, "snake.call", "snake.dispatch", "snake.python greet", "snake.callback", HANDLER];
/// The spans the Python child records.
const CHILD_SPANS: [&str; 4] = ["snake.dispatch", "snake.convert.request", "snake.python greet", "snake.convert.reply"];

#[test]
fn trace_tree_prints_one_cross_process_trace_and_exports_it_as_otlp_json() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for the fake collector");
    let addr = listener.local_addr().expect("the fake collector's address");
    let collector = fake_collector(listener);

    let run = run_example(addr);
    assert!(
        run.status.success(),
        "trace_tree failed with {}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    let stdout = &run.stdout;

    assert!(stdout.contains("python answered \"welcome back, ada\" (3 earlier visits)"), "{stdout}");
    assert!(
        stdout.contains(&format!("OTLP export of 8 spans to http://{addr}/v1/traces succeeded")),
        "the example reports the export\n{stdout}\nstderr:\n{}",
        run.stderr
    );

    // ---- the printed tree ----
    let header =
        stdout.lines().find(|line| line.starts_with("trace ")).unwrap_or_else(|| panic!("no header:\n{stdout}"));
    let printed_trace_id = header["trace ".len()..].split(':').next().unwrap_or_default().to_owned();
    assert_eq!(printed_trace_id.len(), 32, "{header}");
    assert!(header.contains(": 8 spans in 2 processes"), "{header}");
    let nodes = parse_tree(stdout);

    let find = |name: &str| -> usize {
        let found: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].span_name() == Some(name)).collect();
        assert_eq!(found.len(), 1, "span {name} printed exactly once\n{stdout}");
        found[0]
    };
    for (depth, pair) in CHAIN.windows(2).enumerate() {
        let (parent, child) = (find(pair[0]), find(pair[1]));
        assert_eq!(nodes[parent].depth, depth, "{} at depth {depth}\n{stdout}", pair[0]);
        assert_eq!(nodes[child].depth, depth + 1, "{} at depth {}\n{stdout}", pair[1], depth + 1);
        assert_eq!(parent_of(&nodes, child), Some(parent), "{} is printed under {}\n{stdout}", pair[1], pair[0]);
    }
    let dispatch = find("snake.dispatch");
    for conversion in ["snake.convert.request", "snake.convert.reply"] {
        assert_eq!(parent_of(&nodes, find(conversion)), Some(dispatch), "{conversion} under dispatch\n{stdout}");
    }
    // Siblings in start order: request conversion, Python, reply conversion.
    assert!(
        find("snake.convert.request") < find("snake.python greet")
            && find("snake.python greet") < find("snake.convert.reply")
    );

    let events_under = |span: &str| -> Vec<&str> {
        let span = find(span);
        (0..nodes.len())
            .filter(|&i| parent_of(&nodes, i) == Some(span))
            .filter_map(|i| match &nodes[i].kind {
                Kind::Event(text) => Some(text.as_str()),
                Kind::Span { .. } => None,
            })
            .collect()
    };
    let call_events = events_under("snake.call");
    assert_eq!(call_events.len(), 2, "the two Python log lines, under snake.call: {call_events:?}\n{stdout}");
    assert!(call_events[0].contains("INFO  snake::python [traced]: greeting ada"), "{call_events:?}");
    assert!(
        call_events[1].contains("WARN  snake::python [traced]: ada has been here 3 times before"),
        "{call_events:?}"
    );
    let handler_events = events_under(HANDLER);
    assert_eq!(handler_events.len(), 1, "{handler_events:?}\n{stdout}");
    assert!(handler_events[0].contains("INFO  trace_tree: looked up ada visits=3"), "{handler_events:?}");
    for span in [ROOT, "snake.dispatch", "snake.python greet", "snake.callback"] {
        assert!(events_under(span).is_empty(), "no events under {span}\n{stdout}");
    }

    // Processes: the parent's spans carry the example's own pid, the child's another one.
    let parent_label = format!("parent pid {}", run.pid);
    for span in [ROOT, "snake.call", "snake.callback", HANDLER] {
        assert_eq!(nodes[find(span)].process(), Some(parent_label.as_str()), "{span}\n{stdout}");
    }
    let child_label = nodes[find("snake.dispatch")].process().unwrap_or_default().to_owned();
    let child_pid: u32 = child_label
        .strip_prefix("child pid ")
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("dispatch ran in a child: {child_label:?}\n{stdout}"));
    assert_ne!(child_pid, run.pid);
    for span in CHILD_SPANS {
        assert_eq!(nodes[find(span)].process(), Some(child_label.as_str()), "{span}\n{stdout}");
    }

    // ---- what the collector received ----
    let request =
        collector.join().expect("the fake collector thread").unwrap_or_else(|err| panic!("fake collector: {err}"));
    let request_line = request.head.lines().next().unwrap_or_default();
    assert_eq!(request_line, "POST /v1/traces HTTP/1.1");
    assert_eq!(header_value(&request.head, "content-type"), Some("application/json"));
    assert_eq!(header_value(&request.head, "host"), Some(addr.to_string().as_str()));
    let agent = header_value(&request.head, "user-agent").unwrap_or_default();
    assert!(agent.starts_with("OTel-OTLP-Exporter-Rust/"), "sent by opentelemetry-otlp: {agent:?}");
    let body: Value = serde_json::from_slice(&request.body)
        .unwrap_or_else(|err| panic!("the body is JSON ({err}): {}", String::from_utf8_lossy(&request.body)));

    let resource_spans = body["resourceSpans"].as_array().expect("resourceSpans is an array");
    assert_eq!(resource_spans.len(), 1, "{body}");
    let service = resource_spans[0]["resource"]["attributes"]
        .as_array()
        .and_then(|attrs| attrs.iter().find(|kv| kv["key"] == "service.name"))
        .unwrap_or_else(|| panic!("no service.name in {}", resource_spans[0]["resource"]));
    assert_eq!(service["value"], serde_json::json!({ "stringValue": "snake-trace-tree" }));

    let spans: Vec<&Value> = resource_spans[0]["scopeSpans"]
        .as_array()
        .expect("scopeSpans is an array")
        .iter()
        .flat_map(|scope| scope["spans"].as_array().expect("spans is an array"))
        .collect();
    assert_eq!(spans.len(), 8, "the printed spans, no more, no fewer");
    for span in &spans {
        assert_eq!(span["traceId"], printed_trace_id.as_str(), "one trace, the printed one: {span}");
        let id = span["spanId"].as_str().unwrap_or_default();
        assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id != "0000000000000000", "{span}");
        let nanos = |key: &str| -> u64 {
            span[key]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{key} is a decimal string: {span}"))
        };
        assert!(nanos("startTimeUnixNano") <= nanos("endTimeUnixNano"), "{span}");
        assert!(span["kind"].is_u64() && span["status"]["code"].is_u64(), "{span}");
    }
    let named = |name: &str| -> &Value {
        let matching: Vec<&&Value> = spans.iter().filter(|span| span["name"] == name).collect();
        assert_eq!(matching.len(), 1, "one {name} span in the export");
        matching[0]
    };
    // Empty bytes may be sent as "" (opentelemetry-otlp does) or left out.
    let root_parent = named(ROOT).get("parentSpanId").map_or(Some(""), Value::as_str);
    assert_eq!(root_parent, Some(""), "the root has no parent: {}", named(ROOT));
    for pair in CHAIN.windows(2) {
        assert_eq!(named(pair[1])["parentSpanId"], named(pair[0])["spanId"], "{} is a child of {}", pair[1], pair[0]);
    }
    for conversion in ["snake.convert.request", "snake.convert.reply"] {
        assert_eq!(named(conversion)["parentSpanId"], named("snake.dispatch")["spanId"], "{conversion}");
    }
    let attribute = |span: &Value, key: &str| -> Value {
        span["attributes"]
            .as_array()
            .and_then(|attrs| attrs.iter().find(|kv| kv["key"] == key))
            .map_or(Value::Null, |kv| kv["value"].clone())
    };
    for span in CHILD_SPANS {
        assert_eq!(
            attribute(named(span), "process.pid"),
            serde_json::json!({ "stringValue": child_pid.to_string() }),
            "{span}"
        );
    }
    let events: Vec<(String, Value)> = named("snake.call")["events"]
        .as_array()
        .expect("snake.call has events")
        .iter()
        .map(|event| (event["name"].as_str().unwrap_or_default().to_owned(), attribute(event, "level")))
        .collect();
    assert_eq!(
        events,
        vec![
            ("greeting ada".to_owned(), serde_json::json!({ "stringValue": "INFO" })),
            ("ada has been here 3 times before".to_owned(), serde_json::json!({ "stringValue": "WARN" })),
        ]
    );
}

// ---- running the example ----

struct Run {
    pid: u32,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs the example with its OTLP endpoint at `collector`, killing it after [`RUN_TIMEOUT`].
fn run_example(collector: SocketAddr) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trace_tree"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the trace_tree example");
    let pid = child.id();
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the example") {
            break status;
        }
        if Instant::now() >= deadline {
            // Best effort: the process may have exited just now.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "trace_tree did not finish within {RUN_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    let read = |handle: JoinHandle<String>| handle.join().expect("the output reader thread");
    Run { pid, status, stdout: read(stdout), stderr: read(stderr) }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error ends the capture; what was read so far is still worth showing.
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

// ---- the printed tree ----

#[derive(Debug)]
enum Kind {
    /// A span line: its name and the process column.
    Span { name: String, process: String },
    /// An event line, without its bullet.
    Event(String),
}

#[derive(Debug)]
struct Node {
    depth: usize,
    kind: Kind,
}

impl Node {
    fn span_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Span { name, .. } => Some(name),
            Kind::Event(_) => None,
        }
    }

    fn process(&self) -> Option<&str> {
        match &self.kind {
            Kind::Span { process, .. } => Some(process),
            Kind::Event(_) => None,
        }
    }
}

/// The lines between the column header (`span  process  start  duration`) and the next blank
/// line; depth is the column of the name (or the event's bullet) over three.
fn parse_tree(stdout: &str) -> Vec<Node> {
    let mut lines = stdout.lines().skip_while(|line| !line.starts_with("span ")).skip(1);
    let mut nodes = Vec::new();
    for line in lines.by_ref().take_while(|line| !line.trim().is_empty()) {
        let drawing = line.chars().take_while(|c| matches!(c, ' ' | '│' | '├' | '└' | '─')).count();
        assert_eq!(drawing % 3, 0, "the tree is drawn three columns per level: {line:?}");
        let content: String = line.chars().skip(drawing).collect();
        let kind = match content.strip_prefix("• ") {
            Some(event) => Kind::Event(event.to_owned()),
            None => {
                let name = content.split("  ").next().unwrap_or_default().to_owned();
                let process = ["parent pid ", "child pid "]
                    .iter()
                    .find_map(|label| content.find(label))
                    .map(|at| content[at..].split("  ").next().unwrap_or_default().to_owned())
                    .unwrap_or_else(|| panic!("a span line names its process: {line:?}"));
                Kind::Span { name, process }
            }
        };
        nodes.push(Node { depth: drawing / 3, kind });
    }
    assert!(!nodes.is_empty(), "no tree in the output:\n{stdout}");
    nodes
}

/// The span a node is printed under: the nearest span line above it one level up, provided
/// nothing shallower comes between.
fn parent_of(nodes: &[Node], index: usize) -> Option<usize> {
    let depth = nodes[index].depth;
    let above = (0..index).rev().find(|&i| nodes[i].depth < depth && nodes[i].span_name().is_some())?;
    (nodes[above].depth + 1 == depth).then_some(above)
}

// ---- the fake collector ----

struct Request {
    head: String,
    body: Vec<u8>,
}

fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Accepts one connection (within [`RUN_TIMEOUT`]), reads one HTTP request, answers 200 with an
/// empty OTLP response and hands the request back.
fn fake_collector(listener: TcpListener) -> JoinHandle<Result<Request, String>> {
    thread::spawn(move || {
        listener.set_nonblocking(true).map_err(|e| format!("set_nonblocking: {e}"))?;
        let deadline = Instant::now() + RUN_TIMEOUT;
        let mut stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(20));
                }
                Err(err) => return Err(format!("no connection within {RUN_TIMEOUT:?}: {err}")),
            }
        };
        let request = read_request(&mut stream).map_err(|e| format!("reading the request: {e}"))?;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            .map_err(|e| format!("answering: {e}"))?;
        Ok(request)
    })
}

fn read_request(stream: &mut TcpStream) -> io::Result<Request> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 || bytes.len() > MAX_REQUEST {
            return Err(invalid("the connection closed before the end of the head"));
        }
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(bytes[..head_end].to_vec()).map_err(|_| invalid("the head is not UTF-8"))?;
    let length: usize = header_value(&head, "content-length")
        .and_then(|n| n.parse().ok())
        .filter(|&n| n <= MAX_REQUEST)
        .ok_or_else(|| invalid("no usable Content-Length"))?;
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(invalid("the connection closed before the end of the body"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Request { head, body })
}
