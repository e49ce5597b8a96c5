//! A small OTLP/HTTP span exporter: protobuf-JSON bodies POSTed over a plain `TcpStream`.
//!
//! Services normally use the `opentelemetry-otlp` crate. This one keeps the examples free of an
//! HTTP client stack and shows the wire format in one page: one HTTP/1.1 request per export,
//! `http://` endpoints only, every network step bounded by a timeout, the blocking exchange on
//! its own thread so no async executor thread is held up.
//!
//! The body follows the OTLP JSON encoding: the protobuf-JSON mapping with trace and span ids as
//! lowercase hex, 64-bit integers (timestamps, `intValue`) as decimal strings and enums as
//! integers.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde_json::{Map, json};

/// The environment variable naming the collector's base URL, as the OpenTelemetry SDKs read it.
pub const ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Connecting, sending the request and waiting for the response each give up after this long.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A collector's response is read up to this many bytes; only its status and errors matter.
const MAX_RESPONSE: usize = 64 * 1024;

/// `flags` bits of the OTLP `Span` and `Link` messages: whether the parent (or linked) span is
/// known to be remote, and whether it is.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

/// Why an export (or building the exporter) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum OtlpError {
    /// The endpoint is not an `http://` URL; this exporter speaks plain HTTP only.
    UnsupportedScheme {
        /// The endpoint as given.
        endpoint: String,
    },
    /// The endpoint has no host, or a port that is not a number.
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The collector could not be reached, or the exchange with it failed or timed out.
    Io {
        /// Which step failed: resolving, connecting, sending or receiving.
        step: &'static str,
        /// The `host:port` being talked to.
        authority: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The collector answered with a non-2xx status.
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, for the collector's own explanation.
        body: String,
    },
    /// The collector accepted the request but dropped some spans (an OTLP partial success).
    PartialSuccess {
        /// How many spans it rejected.
        rejected_spans: i64,
        /// Its explanation.
        message: String,
    },
    /// The response was not HTTP.
    MalformedResponse {
        /// What was received (its start).
        received: String,
    },
    /// The batch could not be encoded as JSON.
    Encode(serde_json::Error),
    /// `export` was called after `shutdown`.
    ShutDown,
    /// The thread doing the blocking exchange could not be started or died.
    Thread(String),
}

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedScheme { endpoint } => write!(
                f,
                "unsupported OTLP endpoint `{endpoint}`: this example exporter speaks plain http:// only \
                 (for https use the opentelemetry-otlp crate, or a local collector)"
            ),
            Self::InvalidEndpoint { endpoint, reason } => write!(f, "invalid OTLP endpoint `{endpoint}`: {reason}"),
            Self::Io { step, authority, source } => write!(f, "{step} {authority} failed: {source}"),
            Self::Rejected { status, body } => write!(f, "the collector answered HTTP {status}: {body}"),
            Self::PartialSuccess { rejected_spans, message } => {
                write!(f, "the collector rejected {rejected_spans} span(s): {message}")
            }
            Self::MalformedResponse { received } => write!(f, "the collector's response is not HTTP: {received:?}"),
            Self::Encode(err) => write!(f, "encoding the spans as JSON failed: {err}"),
            Self::ShutDown => f.write_str("the exporter is shut down"),
            Self::Thread(reason) => write!(f, "the export thread failed: {reason}"),
        }
    }
}

impl std::error::Error for OtlpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Encode(err) => Some(err),
            _ => None,
        }
    }
}

/// Where the spans go: `http://{authority}{path}`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    /// `host:port` (IPv6 hosts in brackets), for connecting and for the `Host` header.
    authority: String,
    /// The request path, `/v1/traces` under the endpoint's own path.
    path: String,
}

impl Target {
    /// The traces URL for a base endpoint, as the OTLP exporter specification derives it from
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: `{endpoint}/v1/traces`.
    fn parse(endpoint: &str) -> Result<Self, OtlpError> {
        let invalid = |reason| OtlpError::InvalidEndpoint { endpoint: endpoint.to_owned(), reason };
        let trimmed = endpoint.trim();
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(invalid("expected a URL such as http://127.0.0.1:4318"));
        };
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(OtlpError::UnsupportedScheme { endpoint: endpoint.to_owned() });
        }
        let (authority, base_path) = match rest.find(['/', '?', '#']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if base_path.contains(['?', '#']) {
            return Err(invalid("a query or fragment is not supported"));
        }
        if authority.contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        // The port follows the last `:` unless that `:` is inside an IPv6 literal (`[::1]`).
        let (host, port) = match authority.rfind(':') {
            Some(at) if !authority[at..].contains(']') => (&authority[..at], Some(&authority[at + 1..])),
            _ => (authority, None),
        };
        if host.is_empty() || host == "[]" {
            return Err(invalid("the host is missing"));
        }
        let port = match port {
            Some(port) => port.parse::<u16>().map_err(|_| invalid("the port is not a number from 0 to 65535"))?,
            None => 80,
        };
        let path = format!("{}/v1/traces", base_path.trim_end_matches('/'));
        Ok(Self { authority: format!("{host}:{port}"), path })
    }
}

/// Exports spans to an OTLP/HTTP collector as JSON, one POST per batch.
///
/// Clones share the shutdown state.
#[derive(Clone, Debug)]
pub struct OtlpHttpExporter {
    target: Target,
    resource: Vec<KeyValue>,
    shut_down: Arc<AtomicBool>,
}

impl OtlpHttpExporter {
    /// An exporter sending to `{endpoint}/v1/traces`, with `service_name` as the `service.name`
    /// resource attribute (a provider's own resource replaces it, see
    /// [`SpanExporter::set_resource`]).
    ///
    /// # Errors
    ///
    /// [`OtlpError::UnsupportedScheme`] for an `https://` endpoint, [`OtlpError::InvalidEndpoint`]
    /// for a malformed one: both are caught here, before any span is sent.
    pub fn new(endpoint: &str, service_name: &str) -> Result<Self, OtlpError> {
        Ok(Self {
            target: Target::parse(endpoint)?,
            resource: vec![KeyValue::new("service.name", service_name.to_owned())],
            shut_down: Arc::new(AtomicBool::new(false)),
        })
    }

    /// An exporter for the endpoint in [`ENDPOINT_ENV`], or `None` when it is unset or empty.
    #[must_use]
    pub fn from_env(service_name: &str) -> Option<Result<Self, OtlpError>> {
        let endpoint = std::env::var(ENDPOINT_ENV).ok().filter(|endpoint| !endpoint.trim().is_empty())?;
        Some(Self::new(&endpoint, service_name))
    }

    /// The URL spans are POSTed to.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}{}", self.target.authority, self.target.path)
    }

    /// Sends `batch` and waits for the collector's answer, blocking the calling thread (each
    /// network step is bounded by a timeout).
    ///
    /// # Errors
    ///
    /// Any failure to reach the collector or to have the spans accepted, as an [`OtlpError`].
    pub fn send_blocking(&self, batch: &[SpanData]) -> Result<(), OtlpError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OtlpError::ShutDown);
        }
        let body = serde_json::to_vec(&encode(batch, &self.resource)).map_err(OtlpError::Encode)?;
        let response = self.post(&body)?;
        check_response(&response)
    }

    /// One HTTP/1.1 exchange; returns the raw response (bounded).
    fn post(&self, body: &[u8]) -> Result<Vec<u8>, OtlpError> {
        let authority = &self.target.authority;
        let io_error = |step| move |source| OtlpError::Io { step, authority: authority.clone(), source };
        let mut stream = connect(authority).map_err(io_error("connecting to"))?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(io_error("configuring the connection to"))?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(io_error("configuring the connection to"))?;
        let head = format!(
            "POST {path} HTTP/1.1\r\n\
             Host: {authority}\r\n\
             User-Agent: snake-examples-otlp/{version}\r\n\
             Content-Type: application/json\r\n\
             Content-Length: {length}\r\n\
             Connection: close\r\n\r\n",
            path = self.target.path,
            version = env!("CARGO_PKG_VERSION"),
            length = body.len(),
        );
        stream.write_all(head.as_bytes()).map_err(io_error("sending to"))?;
        stream.write_all(body).map_err(io_error("sending to"))?;
        stream.flush().map_err(io_error("sending to"))?;
        read_response(&mut stream).map_err(io_error("reading the response of"))
    }
}

/// Connects to the first address of `authority` that accepts, each attempt bounded by [`TIMEOUT`].
fn connect(authority: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host resolved to no address");
    for addr in authority.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(err) => last = err,
        }
    }
    Err(last)
}

/// Reads the response until its `Content-Length` is complete or the collector closes the
/// connection (we asked for `Connection: close`), at most [`MAX_RESPONSE`] bytes.
fn read_response(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut response = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if n == 0 {
            return Ok(response);
        }
        response.extend_from_slice(&chunk[..n]);
        if response.len() >= MAX_RESPONSE {
            response.truncate(MAX_RESPONSE);
            return Ok(response);
        }
        if let Some((head_len, Some(length))) =
            split_head(&response).map(|(head, _)| (head.len() + 4, content_length(head)))
            && response.len() >= head_len + length
        {
            response.truncate(head_len + length);
            return Ok(response);
        }
    }
}

/// The head (without the blank line) and body of a response, once the head is complete.
fn split_head(response: &[u8]) -> Option<(&str, &[u8])> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..end]).ok()?;
    Some((head, &response[end + 4..]))
}

fn content_length(head: &str) -> Option<usize> {
    head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
    })
}

/// Success is a 2xx status whose body, if it is an OTLP `ExportTraceServiceResponse`, reports
/// no rejected spans.
fn check_response(response: &[u8]) -> Result<(), OtlpError> {
    let malformed = || OtlpError::MalformedResponse {
        received: String::from_utf8_lossy(&response[..response.len().min(200)]).into_owned(),
    };
    let (head, body) = split_head(response).ok_or_else(malformed)?;
    let status = head
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1."))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(malformed)?;
    let body_text = String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
    if !(200..300).contains(&status) {
        return Err(OtlpError::Rejected { status, body: body_text });
    }
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(()); // An empty or non-JSON 2xx body is a full success.
    };
    let partial = &answer["partialSuccess"];
    // int64 fields arrive as strings in protobuf JSON, but some collectors send numbers.
    let rejected_spans = match &partial["rejectedSpans"] {
        serde_json::Value::String(text) => text.parse().unwrap_or(0),
        number => number.as_i64().unwrap_or(0),
    };
    if rejected_spans > 0 {
        let message = partial["errorMessage"].as_str().unwrap_or_default().to_owned();
        return Err(OtlpError::PartialSuccess { rejected_spans, message });
    }
    Ok(())
}

impl SpanExporter for OtlpHttpExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let exporter = self.clone();
        async move {
            let (done, result) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("otlp-export".into())
                .spawn(move || {
                    // The receiver is gone only if the export future was dropped; nobody to tell.
                    let _ = done.send(exporter.send_blocking(&batch));
                })
                .map_err(|err| OTelSdkError::InternalFailure(OtlpError::Thread(err.to_string()).to_string()))?;
            match result.await {
                Ok(outcome) => outcome.map_err(|err| OTelSdkError::InternalFailure(err.to_string())),
                Err(_) => Err(OTelSdkError::InternalFailure(OtlpError::Thread("it panicked".into()).to_string())),
            }
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.iter().map(|(key, value)| KeyValue::new(key.clone(), value.clone())).collect();
    }
}

/// The `ExportTraceServiceRequest` for `batch`, as protobuf JSON: one resource, one entry per
/// instrumentation scope in order of first appearance.
#[must_use]
pub fn encode(batch: &[SpanData], resource: &[KeyValue]) -> serde_json::Value {
    let mut scopes: Vec<(&InstrumentationScope, Vec<serde_json::Value>)> = Vec::new();
    for span in batch {
        let encoded = encode_span(span);
        match scopes.iter_mut().find(|(scope, _)| *scope == &span.instrumentation_scope) {
            Some((_, spans)) => spans.push(encoded),
            None => scopes.push((&span.instrumentation_scope, vec![encoded])),
        }
    }
    let scope_spans: Vec<_> = scopes
        .into_iter()
        .map(|(scope, spans)| {
            let mut entry = Map::new();
            entry.insert("scope".into(), encode_scope(scope));
            entry.insert("spans".into(), spans.into());
            if let Some(url) = scope.schema_url() {
                entry.insert("schemaUrl".into(), url.into());
            }
            serde_json::Value::Object(entry)
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": { "attributes": attributes(resource) },
            "scopeSpans": scope_spans,
        }]
    })
}

fn encode_scope(scope: &InstrumentationScope) -> serde_json::Value {
    let attrs: Vec<KeyValue> = scope.attributes().cloned().collect();
    json!({
        "name": scope.name(),
        "version": scope.version().unwrap_or_default(),
        "attributes": attributes(&attrs),
    })
}

fn encode_span(span: &SpanData) -> serde_json::Value {
    let context = &span.span_context;
    let mut flags = u32::from(context.trace_flags().to_u8()) | FLAG_HAS_IS_REMOTE;
    if span.parent_span_is_remote {
        flags |= FLAG_IS_REMOTE;
    }
    let mut encoded = json!({
        "traceId": context.trace_id().to_string(),
        "spanId": context.span_id().to_string(),
        "flags": flags,
        "name": span.name,
        "kind": kind(&span.span_kind),
        "startTimeUnixNano": unix_nanos(span.start_time),
        "endTimeUnixNano": unix_nanos(span.end_time),
        "attributes": attributes(&span.attributes),
        "droppedAttributesCount": span.dropped_attributes_count,
        "events": span.events.iter().map(|event| json!({
            "timeUnixNano": unix_nanos(event.timestamp),
            "name": event.name,
            "attributes": attributes(&event.attributes),
            "droppedAttributesCount": event.dropped_attributes_count,
        })).collect::<Vec<_>>(),
        "droppedEventsCount": span.events.dropped_count,
        "links": span.links.iter().map(|link| {
            let mut flags = u32::from(link.span_context.trace_flags().to_u8()) | FLAG_HAS_IS_REMOTE;
            if link.span_context.is_remote() {
                flags |= FLAG_IS_REMOTE;
            }
            json!({
                "traceId": link.span_context.trace_id().to_string(),
                "spanId": link.span_context.span_id().to_string(),
                "traceState": link.span_context.trace_state().header(),
                "attributes": attributes(&link.attributes),
                "droppedAttributesCount": link.dropped_attributes_count,
                "flags": flags,
            })
        }).collect::<Vec<_>>(),
        "droppedLinksCount": span.links.dropped_count,
        "status": status(&span.status),
    });
    // Absent, not all zeros, for a root span; likewise an empty trace state.
    if span.parent_span_id != SpanId::INVALID {
        encoded["parentSpanId"] = span.parent_span_id.to_string().into();
    }
    let trace_state = context.trace_state().header();
    if !trace_state.is_empty() {
        encoded["traceState"] = trace_state.into();
    }
    encoded
}

/// `Span.SpanKind`: INTERNAL = 1, SERVER = 2, CLIENT = 3, PRODUCER = 4, CONSUMER = 5.
fn kind(kind: &SpanKind) -> u8 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// `Status.StatusCode`: UNSET = 0, OK = 1, ERROR = 2.
fn status(status: &Status) -> serde_json::Value {
    match status {
        Status::Unset => json!({ "code": 0 }),
        Status::Ok => json!({ "code": 1 }),
        Status::Error { description } => json!({ "code": 2, "message": description }),
    }
}

/// Nanoseconds since the Unix epoch as a decimal string (a `fixed64` in protobuf JSON).
fn unix_nanos(at: SystemTime) -> String {
    at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_nanos()).to_string()
}

fn attributes(attributes: &[KeyValue]) -> Vec<serde_json::Value> {
    attributes.iter().map(|kv| json!({ "key": kv.key.as_str(), "value": any_value(&kv.value) })).collect()
}

/// An `AnyValue`.
fn any_value(value: &Value) -> serde_json::Value {
    match value {
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::I64(i) => json!({ "intValue": i.to_string() }),
        Value::F64(f) => json!({ "doubleValue": double(*f) }),
        Value::String(s) => json!({ "stringValue": s.as_str() }),
        Value::Array(array) => {
            let values: Vec<serde_json::Value> = match array {
                Array::Bool(items) => items.iter().map(|b| json!({ "boolValue": b })).collect(),
                Array::I64(items) => items.iter().map(|i| json!({ "intValue": i.to_string() })).collect(),
                Array::F64(items) => items.iter().map(|f| json!({ "doubleValue": double(*f) })).collect(),
                Array::String(items) => items.iter().map(|s| json!({ "stringValue": s.as_str() })).collect(),
                // A kind of array added after this was written: keep its text rather than drop it.
                other => return json!({ "stringValue": other.to_string() }),
            };
            json!({ "arrayValue": { "values": values } })
        }
        // A kind of value added after this was written: keep its text rather than drop it.
        other => json!({ "stringValue": other.to_string() }),
    }
}

/// A double as protobuf JSON writes it: a number, or the strings for non-finite values (which
/// JSON numbers cannot express).
fn double(f: f64) -> serde_json::Value {
    if f.is_finite() {
        json!(f)
    } else if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    fn target(endpoint: &str) -> Target {
        Target::parse(endpoint).unwrap_or_else(|err| panic!("{endpoint}: {err}"))
    }

    #[test]
    fn endpoint_becomes_the_traces_url() {
        let t = target("http://127.0.0.1:4318");
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("127.0.0.1:4318", "/v1/traces"));
        let t = target("http://collector/base/");
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("collector:80", "/base/v1/traces"));
        let t = target("HTTP://[::1]:4318/");
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("[::1]:4318", "/v1/traces"));
        let t = target("http://[::1]");
        assert_eq!(t.authority, "[::1]:80");
    }

    #[test]
    fn https_and_malformed_endpoints_are_refused_with_a_reason() {
        let err = Target::parse("https://otel.example.com").expect_err("https");
        assert!(matches!(err, OtlpError::UnsupportedScheme { .. }), "{err:?}");
        assert!(err.to_string().contains("http:// only"), "{err}");
        for (endpoint, reason) in [
            ("127.0.0.1:4318", "expected a URL"),
            ("http://:4318", "host is missing"),
            ("http://host:port", "port is not a number"),
            ("http://host:70000", "port is not a number"),
            ("http://user@host", "credentials"),
        ] {
            let err = Target::parse(endpoint).expect_err(endpoint);
            assert!(err.to_string().contains(reason), "{endpoint}: {err}");
        }
    }

    #[test]
    fn values_follow_the_protobuf_json_mapping() {
        assert_eq!(any_value(&Value::I64(-7)), json!({ "intValue": "-7" }));
        assert_eq!(any_value(&Value::F64(0.5)), json!({ "doubleValue": 0.5 }));
        assert_eq!(any_value(&Value::F64(f64::NAN)), json!({ "doubleValue": "NaN" }));
        assert_eq!(any_value(&Value::F64(f64::NEG_INFINITY)), json!({ "doubleValue": "-Infinity" }));
        assert_eq!(any_value(&Value::Bool(true)), json!({ "boolValue": true }));
        assert_eq!(any_value(&"x".into()), json!({ "stringValue": "x" }));
        assert_eq!(
            any_value(&Value::Array(Array::I64(vec![1, 2]))),
            json!({ "arrayValue": { "values": [{ "intValue": "1" }, { "intValue": "2" }] } })
        );
    }

    fn span(name: &'static str, span_id: u64, parent: u64, scope: &'static str) -> SpanData {
        let start = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
                SpanId::from(span_id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: parent == 2,
            span_kind: SpanKind::Server,
            name: name.into(),
            start_time: start,
            end_time: start + Duration::from_micros(5),
            attributes: vec![KeyValue::new("n", 3_i64)],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::error("boom"),
            instrumentation_scope: InstrumentationScope::builder(scope).build(),
        }
    }

    #[test]
    fn spans_are_grouped_by_scope_with_hex_ids_and_string_times() {
        let batch = [span("root", 1, 0, "a"), span("child", 3, 2, "b"), span("other", 4, 1, "a")];
        let body = encode(&batch, &[KeyValue::new("service.name", "svc")]);
        let resource = &body["resourceSpans"][0];
        assert_eq!(
            resource["resource"]["attributes"],
            json!([{ "key": "service.name", "value": { "stringValue": "svc" } }])
        );
        let scopes = resource["scopeSpans"].as_array().expect("scopeSpans");
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[0]["scope"]["name"], "a");
        assert_eq!(scopes[0]["spans"].as_array().map(Vec::len), Some(2));
        let root = &scopes[0]["spans"][0];
        assert_eq!(root["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(root["spanId"], "0000000000000001");
        assert!(root.get("parentSpanId").is_none(), "a root span has no parent id: {root}");
        assert_eq!(root["startTimeUnixNano"], "1700000000123456789");
        assert_eq!(root["endTimeUnixNano"], "1700000000123461789");
        assert_eq!(root["kind"], 2);
        assert_eq!(root["status"], json!({ "code": 2, "message": "boom" }));
        assert_eq!(root["flags"], 0x101);
        assert_eq!(root["attributes"], json!([{ "key": "n", "value": { "intValue": "3" } }]));
        let child = &scopes[1]["spans"][0];
        assert_eq!(child["parentSpanId"], "0000000000000002");
        assert_eq!(child["flags"], 0x301, "the parent is remote");
    }

    #[test]
    fn responses_are_judged_by_status_and_partial_success() {
        assert!(check_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").is_ok());
        assert!(check_response(b"HTTP/1.1 202 Accepted\r\n\r\n").is_ok());
        let err = check_response(b"HTTP/1.1 400 Bad Request\r\n\r\nbad span").expect_err("400");
        assert!(matches!(&err, OtlpError::Rejected { status: 400, body } if body == "bad span"), "{err:?}");
        let partial =
            b"HTTP/1.1 200 OK\r\n\r\n{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"too old\"}}";
        let err = check_response(partial).expect_err("partial");
        assert!(
            matches!(&err, OtlpError::PartialSuccess { rejected_spans: 2, message } if message == "too old"),
            "{err:?}"
        );
        let err = check_response(b"SSH-2.0-OpenSSH\r\n\r\n").expect_err("not http");
        assert!(matches!(err, OtlpError::MalformedResponse { .. }), "{err:?}");
        assert_eq!(content_length("HTTP/1.1 200 OK\r\ncontent-length: 12"), Some(12));
    }
}
