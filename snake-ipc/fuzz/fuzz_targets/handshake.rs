//! The handshake's decoders on arbitrary bodies: the version peek, a hello and a welcome with
//! payloads shaped like snake's own (names, method lists, options, a nested error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use snake_ipc::handshake::peek_version;
use snake_ipc::{Hello, IpcError, Welcome};

/// Shaped like the Python layer's hello payload.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct HelloPayload {
    actor: String,
    module: String,
    methods: Vec<(String, Option<u8>)>,
    sync_workers: u16,
    max_callbacks_in_flight: u32,
    log_level: String,
    record_spans: bool,
}

/// Shaped like the Python layer's welcome payload.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct WelcomePayload {
    info: (u32, String, String),
    modes: Vec<u8>,
}

fuzz_target!(|data: &[u8]| {
    let _ = peek_version(data);
    let _ = postcard::from_bytes::<Hello<HelloPayload>>(data);
    let _ = postcard::from_bytes::<Welcome<WelcomePayload, IpcError>>(data);
});
