//! The frame decoder on arbitrary bytes, fed in arbitrary pieces, as both processes' readers do:
//! it returns frames or a typed error, never panics, and never reserves more than its limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use snake_ipc::frame::LENGTH_PREFIX;
use snake_ipc::{FrameDecoder, FrameKind};

const MAX_FRAME: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size, so that splits at every position are tried.
    let Some((&split, data)) = data.split_first() else { return };
    let piece = usize::from(split % 64) + 1;
    let decoder = FrameDecoder::new(MAX_FRAME);
    let mut buf = BytesMut::new();
    for chunk in data.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.body.len() <= MAX_FRAME);
                    // Bodies of every kind the readers decode must fail cleanly too.
                    match frame.header.kind {
                        FrameKind::Log => drop(frame.decode_body::<snake_ipc::LogRecord>()),
                        FrameKind::Spans => drop(frame.decode_body::<Vec<snake_ipc::SpanRecord>>()),
                        FrameKind::Error => drop(frame.decode_body::<snake_ipc::IpcError>()),
                        FrameKind::Shared => drop(frame.decode_body::<snake_ipc::shm::Region>()),
                        FrameKind::Release | FrameKind::Hold | FrameKind::Lend => {
                            drop(frame.decode_body::<Vec<snake_ipc::shm::Region>>());
                        }
                        _ => {}
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= MAX_FRAME + LENGTH_PREFIX + 64 * 1024, "reserved {}", buf.capacity());
    }
});
