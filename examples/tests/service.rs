//! The HTTP service example end to end: it starts on a loopback port with two Python workers,
//! classifies the held-out digits through both endpoints, refuses malformed requests with the
//! right status, reports its pool in `/health` and `/metrics`, and stops cleanly on SIGTERM.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Http, Server, alive, held_out};

/// The value of the Prometheus sample `name{...}` whose labels contain every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{')?;
        (metric == name && labels.iter().all(|l| rest.contains(l))).then(|| value.parse().ok())?
    })
}

fn accuracy(predicted: &[u8], truth: &[u8]) -> f64 {
    assert_eq!(predicted.len(), truth.len());
    predicted.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_classifies_held_out_digits_and_reports_its_pool() {
    let (images, truth) = held_out().expect("held-out digits from scikit-learn");
    assert_eq!((images.len(), truth.len()), (297, 297), "1797 digits, 1500 for training");

    let mut command = Command::new(env!("CARGO_BIN_EXE_service"));
    command.args(["--addr", "127.0.0.1:0", "--workers", "2"]).env("RUST_LOG", "warn");
    let server = Server::start(command, Duration::from_secs(180)).expect("the service starts");
    let url = server.url.clone();
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    let http = Http::default();

    // Health: both workers warm, each a live process of its own.
    let health = http.get(&format!("{url}/health")).await.expect("health");
    assert_eq!(health.status, 200, "{}", health.text());
    let health = health.json().expect("health JSON");
    assert_eq!((&health["status"], &health["ready_workers"]), (&json!("ready"), &json!(2)), "{health}");
    let pids: Vec<u32> = health["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| {
            assert_eq!(w["state"], "warm", "{health}");
            w["pid"].as_u64().and_then(|p| u32::try_from(p).ok()).expect("a pid")
        })
        .collect();
    assert!(pids.len() == 2 && pids[0] != pids[1] && pids.iter().all(|&p| alive(p)), "{health}");

    let metrics_text = || async {
        let reply = http.get(&format!("{url}/metrics")).await.expect("metrics");
        assert_eq!(reply.status, 200);
        assert!(reply.content_type.starts_with("text/plain; version=0.0.4"), "{}", reply.content_type);
        reply.text()
    };
    let before = metrics_text().await;
    let calls_before = sample(&before, "snake_calls_total", &[]).expect("snake_calls_total");

    // Every held-out digit in one batch.
    let body = serde_json::to_vec(&json!({ "images": images })).expect("encode");
    let reply = http.post_json(&format!("{url}/predict"), body.clone()).await.expect("predict");
    assert_eq!((reply.status.as_u16(), reply.content_type.as_str()), (200, "application/json"), "{}", reply.text());
    let predicted: Value = reply.json().expect("predictions");
    let labels: Vec<u8> = serde_json::from_value(predicted["labels"].clone()).expect("labels");
    let probabilities: Vec<f64> = serde_json::from_value(predicted["probabilities"].clone()).expect("probabilities");
    let batch_accuracy = accuracy(&labels, &truth);
    assert!(batch_accuracy > 0.9, "accuracy {batch_accuracy}");
    assert_eq!(probabilities.len(), 297);
    assert!(probabilities.iter().all(|p| (0.1..=1.0).contains(p)), "the top class of ten has p >= 0.1");

    // The same batch streamed: one line per image, in order, the same labels.
    let reply = http.post_json(&format!("{url}/predict/stream"), body).await.expect("stream");
    assert_eq!((reply.status.as_u16(), reply.content_type.as_str()), (200, "application/x-ndjson"), "{}", reply.text());
    let lines: Vec<Value> = reply.text().lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 297);
    let streamed: Vec<u8> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            assert_eq!(line["index"], i, "{line}");
            line["label"].as_u64().and_then(|l| u8::try_from(l).ok()).expect("a label")
        })
        .collect();
    assert_eq!(streamed, labels, "streaming runs the same model");
    assert!(accuracy(&streamed, &truth) > 0.9);
    assert!(reply.frames > 1, "the body came in {} frame(s): not streamed", reply.frames);

    // Requests of the wrong shape never reach Python.
    let short = json!({ "images": [vec![0.0; 64], vec![0.0; 63]] }).to_string();
    let reply = http.post_json(&format!("{url}/predict"), short).await.expect("short image");
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json().expect("error JSON"),
        json!({ "error": "images[1] has 63 values, expected 64 (8x8 grey levels)", "kind": "bad_request" })
    );
    for malformed in [r#"{"images": [[1, 2]"#, r#"{"pixels": []}"#, r#"{"images": []}"#] {
        let reply = http.post_json(&format!("{url}/predict/stream"), malformed).await.expect("malformed");
        assert_eq!(reply.status, 400, "{malformed}: {}", reply.text());
        assert_eq!(reply.json().expect("error JSON")["kind"], "bad_request", "{malformed}");
    }
    // What the model refuses is Python's ValueError, as a 500 with its message.
    let bright = json!({ "images": [vec![99.0; 64]] }).to_string();
    let reply = http.post_json(&format!("{url}/predict"), bright).await.expect("out of range");
    assert_eq!(reply.status, 500, "{}", reply.text());
    assert_eq!(
        reply.json().expect("error JSON"),
        json!({ "error": "image 0, pixel 0: 99.0 is outside 0..=16", "kind": "exception", "type": "ValueError" })
    );

    // Metrics count exactly the three calls that reached Python, one of them failed.
    let after = metrics_text().await;
    let calls = sample(&after, "snake_calls_total", &[]).expect("snake_calls_total") - calls_before;
    assert_eq!(calls, 3.0, "{after}");
    assert_eq!(sample(&after, "snake_call_errors_total", &["kind=\"exception\""]), Some(1.0), "{after}");
    assert_eq!(sample(&after, "snake_calls_in_flight", &[]), Some(0.0), "{after}");
    assert_eq!(sample(&after, "snake_restarts_total", &[]), Some(0.0), "{after}");
    for slot in ["slot=\"0\"", "slot=\"1\""] {
        assert_eq!(sample(&after, "snake_worker_state", &[slot, "state=\"warm\""]), Some(1.0), "{after}");
        assert_eq!(sample(&after, "snake_worker_state", &[slot, "state=\"failed\""]), Some(0.0), "{after}");
    }

    // SIGTERM: the service exits 0 and takes its workers with it.
    let status = server.stop(Duration::from_secs(30)).expect("the service stops");
    assert!(status.success(), "{status}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(pids.iter().all(|&p| !alive(p)), "workers {pids:?} outlived the service");
}
