//! Tests of the shared-memory frames: offload and open, releases, holds and loans.

use std::sync::{Arc, Mutex};

use bytes::BytesMut;

use super::*;
use crate::frame::FrameDecoder;

/// The child's side of `parent`'s arenas, through duplicated descriptors as if inherited.
fn child_of(parent: &Arenas) -> Arenas {
    let (fds, _) = parent.for_child();
    let adopt = |fd: RawFd, access| {
        // SAFETY: dup returns a new descriptor that only `adopt` owns.
        let dup = unsafe { libc::dup(fd) };
        // SAFETY: `dup` is open and owned by nothing else.
        unsafe { Memory::adopt(dup, parent.config.limit, access) }.expect("adopt")
    };
    Arenas::new(
        Outgoing::registered_as(adopt(fds[1], Access::Write), parent.peer_token),
        Incoming::new(adopt(fds[0], Access::Read)),
        parent.config,
        parent.outgoing.token(),
    )
}

/// Where the release frames `arenas` sends go, in order.
fn releases_of(arenas: &Arenas) -> Arc<Mutex<Vec<Vec<u8>>>> {
    let releases = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&releases);
    arenas.incoming.on_release(move |regions| sink.lock().expect("lock").push(release_frame(&regions)));
    releases
}

fn frame(kind: FrameKind, id: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, &Header::new(kind, id), &serde_bytes::Bytes::new(body), usize::MAX).expect("encodes");
    out
}

fn read_one(wire: &[u8]) -> Frame {
    FrameDecoder::new(1 << 30).decode(&mut BytesMut::from(wire)).expect("valid").expect("whole")
}

#[test]
fn a_large_frame_crosses_in_place_and_its_region_comes_back_released() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 8 << 20 }).expect("arenas");
    let child = child_of(&parent);
    let releases = releases_of(&child);

    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let big = frame(FrameKind::Call, 42, &payload);
    let small = frame(FrameKind::Call, 43, b"small");
    assert!(parent.offload(&small).is_none(), "below the threshold");
    let shared = parent.offload(&big).expect("offloaded");
    assert!(shared.len() < 32, "only the region crosses the socket: {} bytes", shared.len());

    let outer = read_one(&shared);
    assert_eq!((outer.header.kind, outer.header.id, outer.header.method), (FrameKind::Shared, 42, 2));
    let inner = child.open(&outer, 1 << 30).expect("opens");
    assert_eq!((inner.header.kind, inner.header.id), (FrameKind::Call, 42));
    let body: serde_bytes::ByteBuf = inner.decode_body().expect("body");
    assert_eq!(body.as_slice(), &payload[..]);
    assert_eq!(parent.outgoing.lent().0, 1);
    drop(inner);
    assert!(arena::tests::wait_until(|| !releases.lock().expect("lock").is_empty()), "released");
    let released = releases.lock().expect("lock").pop().expect("a release frame");
    parent.released(&read_one(&released)).expect("a region it lent");
    assert_eq!(parent.outgoing.lent(), (0, 0));
    // A second release of the same region is refused.
    assert!(matches!(parent.released(&read_one(&released)), Err(ProtocolError::BadRegion { .. })));
}

#[test]
fn a_bad_region_or_a_frame_past_the_limit_is_an_error_for_that_frame() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 4 << 20 }).expect("arenas");
    let child = child_of(&parent);
    let mut forged = Vec::new();
    let header = Header { kind: FrameKind::Shared, id: 7, method: FrameKind::Call as u32, trace: None };
    encode_frame(&mut forged, &header, &Region { offset: 3 << 20, len: 4096 }, usize::MAX).expect("encodes");
    let err = child.open(&read_one(&forged), 1 << 30).expect_err("nothing was grown there");
    assert!(matches!(err, ProtocolError::BadRegion { offset, len: 4096, .. } if offset == 3 << 20), "{err:?}");

    let shared = parent.offload(&frame(FrameKind::Call, 8, &[5; 5000])).expect("offloaded");
    let err = child.open(&read_one(&shared), 4096).expect_err("longer than the frame limit");
    assert!(matches!(err, ProtocolError::FrameTooLarge { max: 4096, .. }), "{err:?}");
    // The same frame opens under a larger limit: the failure above changed nothing.
    assert_eq!(child.open(&read_one(&shared), 1 << 20).expect("opens").header.id, 8);
}

/// A body that hands back `0` when it can (as `SharedBytes` does), else writes its bytes.
struct Echo(bytes::Bytes);

impl Serialize for Echo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match handback::refer(&self.0) {
            Some(reference) => serializer.serialize_newtype_variant("E", 1, "HandBack", &reference),
            None => serializer.serialize_newtype_variant("E", 0, "Inline", serde_bytes::Bytes::new(&self.0)),
        }
    }
}

/// Every frame in `wire`, in order.
fn read_all(wire: &[u8]) -> Vec<Frame> {
    let mut buf = BytesMut::from(wire);
    let decoder = FrameDecoder::new(1 << 30);
    std::iter::from_fn(|| decoder.decode(&mut buf).expect("valid")).collect()
}

/// What `reader` sends back of `payload`, which `writer` sent it in place (`kind`, `id`):
/// the value it kept (a slice of the frame it received), the frames it wrote (a `Hold`,
/// then the frame), their bytes on the wire, and the release frames `reader` sends.
struct SentBack {
    value: bytes::Bytes,
    frames: Vec<Frame>,
    wire_len: usize,
    releases: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn send_back(writer: &Arenas, reader: &Arenas, kind: FrameKind, id: u64, payload: &[u8]) -> SentBack {
    let releases = releases_of(reader);
    let received = reader
        .open(&read_one(&writer.offload(&frame(FrameKind::Call, id, payload)).expect("offloaded")), 1 << 30)
        .expect("opens");
    let value = received.body.slice(received.body.len() - payload.len()..);
    drop(received);
    let mut buf = Vec::new();
    FrameOut::new(&mut buf, Header::new(kind, id), 1 << 30, Some(reader)).put(&Echo(value.clone())).expect("encodes");
    let frames = read_all(&buf);
    assert_eq!(
        frames.iter().map(|f| (f.header.kind, f.header.id)).collect::<Vec<_>>(),
        vec![(FrameKind::Hold, id), (kind, id)]
    );
    SentBack { value, frames, wire_len: buf.len(), releases }
}

/// The reference `frame`'s body carries in place of the bytes (it panics on a copy).
fn reference_in(frame: &Frame) -> handback::HandBack {
    #[derive(serde::Deserialize)]
    enum Wire {
        Inline(serde_bytes::ByteBuf),
        HandBack(handback::HandBack),
    }
    match frame.decode_body().expect("a body") {
        Wire::HandBack(reference) => reference,
        Wire::Inline(bytes) => panic!("{} bytes were copied", bytes.len()),
    }
}

#[test]
fn a_range_handed_back_is_held_until_the_child_and_the_parent_both_let_go() {
    for child_first in [true, false] {
        let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 8 << 20 }).expect("arenas");
        let child = child_of(&parent);
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
        let SentBack { value, frames, wire_len, releases } = send_back(&parent, &child, FrameKind::Reply, 5, &payload);
        assert!(wire_len < 100, "only a reference crosses: {wire_len} bytes");
        // The child still holds its view until the frames are sent; then lets go of it.
        drop(value);
        std::thread::sleep(arena::RELEASE_WINDOW * 4);
        assert!(releases.lock().expect("lock").is_empty(), "kept until sent");
        handback::after_send();
        assert!(arena::tests::wait_until(|| !releases.lock().expect("lock").is_empty()), "released");
        let release = releases.lock().expect("lock").pop().expect("released after the send");

        let mut frames = frames.into_iter();
        parent.hold(&frames.next().expect("hold")).expect("a region lent to the child");
        let reply = parent.with_holds(frames.next().expect("reply"));
        let reference = reference_in(&reply);
        let bytes = resolve(reference.token, reference.region()).expect("resolves");
        assert!(bytes[..] == payload[..], "the parent reads the payload in place");
        drop(reply);
        if child_first {
            parent.released(&read_one(&release)).expect("lent");
            assert_eq!(parent.outgoing.lent().0, 1, "the parent's value still holds the region");
            drop(bytes);
        } else {
            drop(bytes);
            assert_eq!(parent.outgoing.lent().0, 1, "the child's view still holds the region");
            parent.released(&read_one(&release)).expect("lent");
        }
        assert_eq!(parent.outgoing.lent(), (0, 0), "child first: {child_first}");
    }
}

#[test]
fn the_parent_hands_back_a_range_of_the_childs_arena_which_the_child_holds() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 8 << 20 }).expect("arenas");
    let child = child_of(&parent);
    // A reply from the child, in its arena, sent back to the same child in a call.
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 239) as u8).collect();
    let SentBack { value, frames, wire_len, releases } = send_back(&child, &parent, FrameKind::Call, 4, &payload);
    assert!(wire_len < 100, "only a reference crosses: {wire_len} bytes");
    drop(value);
    handback::after_send();
    assert!(arena::tests::wait_until(|| !releases.lock().expect("lock").is_empty()), "released");
    let release = releases.lock().expect("lock").pop().expect("released after the send");

    // The child reads the hold before the parent's release, then the call.
    let mut frames = frames.into_iter();
    child.hold(&frames.next().expect("hold")).expect("a region lent to the parent");
    child.released(&read_one(&release)).expect("lent");
    assert_eq!(child.outgoing.lent().0, 1, "the hold keeps the region");
    let call = child.with_holds(frames.next().expect("call"));
    let reference = reference_in(&call);
    assert_eq!(reference.token, parent.peer_token);
    let bytes = resolve(reference.token, reference.region()).expect("resolves in the child's arena");
    assert!(bytes[..] == payload[..], "the child reads the payload in place");
    drop(call);
    assert_eq!(child.outgoing.lent().0, 1, "the child's value still holds the region");
    drop(bytes);
    assert_eq!(child.outgoing.lent(), (0, 0));
    assert_eq!(parent.outgoing.lent(), (0, 0), "nothing was copied into the parent's arena");
}

/// Frames `arenas` admits from `wire`, in order: `Done` for a hold or a loan, the frame
/// otherwise.
fn admit_all(arenas: &Arenas, wire: &[u8]) -> Vec<Option<Frame>> {
    read_all(wire)
        .into_iter()
        .map(|frame| match arenas.admit(frame, 1 << 30) {
            Admitted::Frame(frame) => Some(frame),
            Admitted::Done => None,
            other => panic!("refused: {other:?}"),
        })
        .collect()
}

/// `payload`, sent in a call (`id`) and handed back by the child's reply, as the parent's
/// value reads it in place in its own arena once the child released its view; and where the
/// child's later releases go.
fn handed_back_to_parent(
    parent: &Arenas,
    child: &Arenas,
    id: u64,
    payload: &[u8],
) -> (bytes::Bytes, Arc<Mutex<Vec<Vec<u8>>>>) {
    let SentBack { value, frames, releases, .. } = send_back(parent, child, FrameKind::Reply, id, payload);
    drop(value);
    handback::after_send();
    assert!(arena::tests::wait_until(|| !releases.lock().expect("lock").is_empty()), "released");
    let first_release = releases.lock().expect("lock").pop().expect("the call's region");
    let mut frames = frames.into_iter();
    parent.hold(&frames.next().expect("hold")).expect("a region lent to the child");
    let reply = parent.with_holds(frames.next().expect("reply"));
    let reference = reference_in(&reply);
    let in_parent = resolve(reference.token, reference.region()).expect("resolves");
    drop(reply);
    parent.released(&read_one(&first_release)).expect("lent");
    (in_parent, releases)
}

#[test]
fn a_value_handed_back_and_sent_on_is_lent_again_and_each_loan_released_once() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 8 << 20 }).expect("arenas");
    let child = child_of(&parent);
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 233) as u8).collect();
    let (in_parent, releases) = handed_back_to_parent(&parent, &child, 6, &payload);

    // The parent sends the value it got back on to the child, twice: two loans, no copy.
    let mut calls = Vec::new();
    for id in [7, 8] {
        let mut buf = Vec::new();
        FrameOut::new(&mut buf, Header::new(FrameKind::Call, id), 1 << 30, Some(&parent))
            .put(&Echo(in_parent.clone()))
            .expect("encodes");
        assert!(buf.len() < 100, "only a reference crosses: {} bytes", buf.len());
        calls.push(buf);
    }
    handback::after_send();
    let region = parent.outgoing.lent();
    assert_eq!(region.0, 1, "one region, and nothing new was placed in the arena");
    drop(in_parent);
    assert_eq!(parent.outgoing.lent(), region, "the loans keep it");

    let mut read = Vec::new();
    let mut part = None;
    for wire in &calls {
        let admitted = admit_all(&child, wire);
        assert_eq!(admitted.len(), 2, "a Lend frame, then the call");
        let call = admitted.into_iter().flatten().next().expect("the call");
        let reference = reference_in(&call);
        assert_eq!(reference.token, arena::lend_token(parent.outgoing.token()));
        part = Some(reference.region());
        let bytes = resolve(reference.token, reference.region()).expect("lent for this frame");
        assert!(bytes[..] == payload[..], "the child reads the payload in place");
        assert!(child.incoming.locate(&bytes).is_some(), "in the parent's arena, as the child maps it");
        drop(call);
        read.push(bytes);
    }
    // The frames are gone, so no frame lends the range now; the values read keep their loans.
    let part = part.expect("two calls were read");
    let err = resolve(arena::lend_token(parent.outgoing.token()), part).expect_err("no frame lends it");
    assert!(matches!(err, ShmError::BadRegion { .. }), "{err:?}");
    std::thread::sleep(arena::RELEASE_WINDOW * 4);
    assert!(releases.lock().expect("lock").is_empty(), "no loan is released while its value lives");
    for bytes in read {
        drop(bytes);
        assert!(arena::tests::wait_until(|| !releases.lock().expect("lock").is_empty()), "released");
        let release = releases.lock().expect("lock").pop().expect("one loan");
        assert_eq!(parent.outgoing.lent().0, 1);
        parent.released(&read_one(&release)).expect("a loan");
    }
    assert_eq!(parent.outgoing.lent(), (0, 0), "free once both loans came back");
}

#[test]
fn a_reserved_region_is_filled_in_place_and_lent_by_reference_each_time_it_is_sent() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 8 << 20 }).expect("arenas");
    let child = child_of(&parent);
    let releases = releases_of(&child);

    let mut reserved = parent.outgoing.reserve(70_000).expect("room");
    assert!(reserved.as_slice().iter().all(|&b| b == 0), "zeroed");
    for (i, b) in reserved.as_mut_slice().iter_mut().enumerate() {
        *b = (i % 199) as u8;
    }
    let expected = reserved.as_slice().to_vec();
    let value = reserved.freeze();
    assert_eq!(parent.outgoing.lent().0, 1, "reserved");

    // Sent twice: a reference each time, and the child reads the bytes in place.
    let mut read = Vec::new();
    for id in [1, 2] {
        let mut buf = Vec::new();
        FrameOut::new(&mut buf, Header::new(FrameKind::Call, id), 1 << 30, Some(&parent))
            .put(&Echo(value.clone()))
            .expect("encodes");
        handback::after_send();
        assert!(buf.len() < 100, "only a reference crosses: {} bytes", buf.len());
        let call = admit_all(&child, &buf).into_iter().flatten().next().expect("the call");
        let reference = reference_in(&call);
        let bytes = resolve(reference.token, reference.region()).expect("lent for this frame");
        assert!(bytes[..] == expected[..], "the child reads what the parent wrote");
        assert!(child.incoming.locate(&bytes).is_some(), "in place, in the parent's arena");
        read.push(bytes);
    }
    assert_eq!(parent.outgoing.lent().0, 1, "nothing new was placed in the arena");
    drop(value);
    assert_eq!(parent.outgoing.lent().0, 1, "the child's loans keep it after the parent's value dropped");
    drop(read);
    assert!(arena::tests::wait_until(|| !releases.lock().expect("lock").is_empty()), "released");
    // Releases close together share a frame.
    std::thread::sleep(arena::RELEASE_WINDOW * 4);
    for release in releases.lock().expect("lock").drain(..) {
        parent.released(&read_one(&release)).expect("a loan");
    }
    assert_eq!(parent.outgoing.lent(), (0, 0), "free once the value and both loans let go");

    // One never sent is free once dropped; and past the limit there is no room.
    drop(parent.outgoing.reserve(1000).expect("room"));
    assert_eq!(parent.outgoing.lent(), (0, 0));
    assert!(parent.outgoing.reserve(9 << 20).is_none(), "past the arena's limit");
}

#[test]
fn a_frame_not_sent_gives_its_loans_back() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 8 << 20 }).expect("arenas");
    let child = child_of(&parent);
    let (in_parent, _) = handed_back_to_parent(&parent, &child, 1, &[9u8; 50_000]);

    let mut buf = Vec::new();
    FrameOut::new(&mut buf, Header::new(FrameKind::Call, 2), 1 << 30, Some(&parent))
        .put(&Echo(in_parent.clone()))
        .expect("encodes");
    handback::after_send();
    drop(in_parent);
    assert_eq!(parent.outgoing.lent().0, 1, "the loan keeps the region");
    parent.discard(&buf);
    assert_eq!(parent.outgoing.lent(), (0, 0), "the call was never sent: its loan is taken back");
}

#[test]
fn a_loan_outside_the_arena_or_not_named_for_the_frame_is_refused() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 4 << 20 }).expect("arenas");
    let child = child_of(&parent);
    let token = arena::lend_token(parent.outgoing.token());
    let mut lend = Vec::new();
    encode_frame(&mut lend, &Header::new(FrameKind::Lend, 3), &vec![Region { offset: 3 << 20, len: 4096 }], usize::MAX)
        .expect("encodes");
    let refused = child.admit(read_one(&lend), 1 << 30);
    assert!(matches!(refused, Admitted::Refused { what: "lend", .. }), "{refused:?}");
    // Nothing was lent: a reference to it does not resolve.
    let err = resolve(token, Region { offset: 3 << 20, len: 4096 }).expect_err("not lent");
    assert!(matches!(err, ShmError::BadRegion { .. }), "{err:?}");
}

#[test]
fn a_forged_reference_is_refused_and_changes_nothing() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 8 << 20 }).expect("arenas");
    let lent = parent.outgoing.place(&[3; 8192]).expect("room");
    let token = parent.outgoing.token();
    let outside = Region { offset: lent.offset + 4096, len: 8192 };
    assert!(matches!(resolve(token, outside), Err(ShmError::BadRegion { .. })));
    assert!(matches!(resolve(token ^ 1, lent), Err(ShmError::BadRegion { .. })), "another token");
    let mut hold = Vec::new();
    encode_frame(&mut hold, &Header::new(FrameKind::Hold, 9), &vec![lent, outside], usize::MAX).expect("encodes");
    assert!(matches!(parent.hold(&read_one(&hold)), Err(ProtocolError::BadRegion { .. })));
    // Nothing was held: the good region is released by the child alone, and resolves meanwhile.
    assert_eq!(&resolve(token, lent).expect("lent")[..10], &[3; 10]);
    parent.outgoing.release(&[lent]).expect("lent");
    assert_eq!(parent.outgoing.lent(), (0, 0));
}

#[test]
fn a_frame_that_does_not_fit_stays_on_the_socket() {
    let parent = Arenas::create(ShmConfig { threshold: 1024, limit: 1 << 20 }).expect("arenas");
    assert!(parent.offload(&frame(FrameKind::Call, 1, &vec![0; 2 << 20])).is_none());
    assert_eq!(parent.outgoing.lent(), (0, 0));
}

#[test]
fn the_environment_value_names_both_descriptors_and_the_config() {
    let parent = Arenas::create(ShmConfig { threshold: 4096, limit: 2 << 20 }).expect("arenas");
    let (fds, value) = parent.for_child();
    let tokens = (parent.outgoing.token(), parent.peer_token);
    assert_eq!(value, format!("{},{},{},4096,{},{}", fds[0], fds[1], 2 << 20, tokens.0, tokens.1));
    assert!(tokens.0 != 0 && tokens.1 != 0 && tokens.0 != tokens.1, "{tokens:?}");
}
