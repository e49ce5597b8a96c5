//! `snake::SharedBytes` and the shared-memory arenas through a real child
//! (`tests/python/shared_memory.py`): bytes Python reads in place, what it may return, and that
//! a region is reused only after Python let go of it.

use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};
use snake::{CallbackError, PythonChildProcessBuilder, PythonConfig, PythonExecutionError, SharedBytes};

use crate::common::{in_a_memfd, python_dir, trial, type_check_with_stubs};

pub fn trials() -> Vec<Trial> {
    vec![
        trial("shared_memory::large_payloads_round_trip_in_place", round_trip),
        trial("shared_memory::python_gets_a_read_only_memoryview", read_only_view),
        trial("shared_memory::python_may_return_any_buffer", any_buffer),
        trial("shared_memory::a_kept_view_keeps_its_region_until_collected", kept_view),
        trial("shared_memory::a_dead_child_releases_its_arenas", dead_child),
        trial("shared_memory::an_echo_hands_the_region_back_without_a_copy", handed_back),
        trial("shared_memory::a_region_handed_back_and_kept_is_freed_in_either_order", handed_back_and_kept),
        trial("shared_memory::a_reply_sent_back_to_its_child_crosses_by_reference", reply_sent_back),
        trial("shared_memory::a_value_handed_back_and_sent_on_is_lent_again_by_reference", lent_again),
        trial("shared_memory::a_buffer_filled_in_the_arena_crosses_by_reference_each_time", filled_in_place),
        trial("shared_memory::a_filled_buffer_outlives_the_child_it_was_filled_for", filled_outlives_child),
        trial("shared_memory::large_callback_arguments_are_written_into_the_arena", callback_arguments),
        trial("shared_memory::without_shared_memory_the_same_values_cross_the_socket", socket_only),
        trial("shared_memory::a_typed_fixture_runs_and_passes_mypy_and_pyright", typed_fixture),
    ]
}

/// A payload and a tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Blob {
    pub data: SharedBytes,
    pub tag: u32,
}

/// What Python saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Inspected {
    pub kind: String,
    pub readonly: bool,
    pub length: u64,
    pub checksum: u64,
}

/// A buffer for Python to build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Make {
    pub size: u64,
    pub kind: String,
}

/// What the Rust side of a callback saw of the bytes Python passed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Received {
    pub length: u64,
    pub checksum: u64,
    /// The bytes lie in a memfd mapping: they crossed in shared memory and were not copied out.
    pub in_shared_memory: bool,
    /// They start on a 64-byte boundary: written into the arena as the frame was encoded.
    pub aligned: bool,
}

/// Describes the bytes Python passed, where they lie.
#[snake::callback]
async fn shm_received(data: SharedBytes) -> Received {
    Received {
        length: data.len() as u64,
        checksum: checksum(&data),
        in_shared_memory: in_a_memfd(data.as_ptr()),
        aligned: (data.as_ptr() as usize).is_multiple_of(snake_ipc::shm::align::ALIGN),
    }
}

/// `size` bytes of N, for `kind` `fill-N`: what Python fetches from Rust.
#[snake::callback]
async fn shm_fill(request: Make) -> Result<SharedBytes, CallbackError> {
    let fill = request.kind.strip_prefix("fill-").and_then(|n| n.parse().ok());
    let fill: u8 = fill.ok_or_else(|| CallbackError::new(format!("not a fill: {}", request.kind)))?;
    Ok(SharedBytes::from(vec![fill; request.size as usize]))
}

/// Handlers that receive and return `SharedBytes`.
#[snake::actor(module = "shared_memory")]
pub trait SharedMemory {
    /// Returns the view it got.
    fn echo(blob: Blob) -> Blob;
    /// Describes the view it got.
    fn inspect(data: SharedBytes) -> Inspected;
    /// Keeps a slice of the view after returning.
    fn keep(data: SharedBytes) -> u64;
    /// Returns the view it got and keeps it.
    fn echo_keep(data: SharedBytes) -> SharedBytes;
    /// The first and last byte of each kept view, read now.
    fn kept_firsts(request: ()) -> Vec<u8>;
    /// Drops the kept views.
    fn forget(request: ()) -> u64;
    /// Builds a buffer of a kind.
    fn make(request: Make) -> SharedBytes;
    /// Tries to write into the view.
    fn write_attempt(data: SharedBytes) -> String;
    /// Keeps the view and exits the process.
    fn die(data: SharedBytes) -> u64;
    /// Passes the bytes `make` would build to the `shm_received` callback; its answer.
    fn call_back(request: Make) -> Received;
    /// Passes the view it got to the `shm_received` callback; its answer.
    fn relay(data: SharedBytes) -> Received;
    /// What it got back from the `shm_fill` callback, and where it lies.
    fn fetch(request: Make) -> Received;
}

/// The same kinds of handlers in a fully typed module (`tests/python/shared_memory_typed.py`).
#[snake::actor(module = "shared_memory_typed")]
pub trait TypedBuffers {
    /// Returns the view it got.
    fn echo(blob: Blob) -> Blob;
    /// The view without its first and last byte.
    fn middle(data: SharedBytes) -> SharedBytes;
    /// The bytes reversed, as new `bytes`.
    fn reversed_copy(data: SharedBytes) -> SharedBytes;
}

fn builder() -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(PythonConfig {
        module_path: python_dir().display().to_string(),
        ..Default::default()
    })
    .max_frame_size(256 << 20)
}

fn pattern(len: usize, seed: u8) -> SharedBytes {
    SharedBytes::from((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect::<Vec<u8>>())
}

/// What `inspect` computes: every `len / 4096`-th byte (at least every one) plus the last.
fn checksum(data: &[u8]) -> u64 {
    let step = (data.len() / 4096).max(1);
    data.iter().step_by(step).map(|&b| u64::from(b)).sum::<u64>() + data.last().map_or(0, |&b| u64::from(b))
}

async fn connection(actor: &SharedMemory) -> Arc<snake_ipc::Connection<PythonExecutionError>> {
    let actor_ref = actor.actor_ref().expect("a spawned handle has a local actor");
    let connections = actor_ref.ask(snake::__private::WorkerConnections).await.expect("connections");
    connections.into_iter().next().expect("one worker")
}

/// Waits, bounded, until the child holds no region of the parent's arena.
async fn all_released(conn: &snake_ipc::Connection<PythonExecutionError>) -> (usize, usize) {
    for _ in 0..200 {
        let lent = conn.shared_memory_lent().expect("shared memory is on");
        if lent.0 == 0 {
            return lent;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    conn.shared_memory_lent().expect("shared memory is on")
}

async fn round_trip() {
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let conn = connection(&actor).await;
    for (len, seed) in [(100, 1), (64 << 10, 2), (1 << 20, 3), (20 << 20, 4)] {
        let data = pattern(len, seed);
        let back = actor.echo(Blob { data: data.clone(), tag: 7 }).await.expect("echo");
        assert_eq!(back.tag, 8);
        assert_eq!(back.data.len(), len);
        assert!(back.data[..] == data[..], "{len} bytes come back unchanged");
        // A large reply is the request's region handed back: it holds it until it drops.
        drop(back);
        assert_eq!(all_released(&conn).await, (0, 0), "the child released the {len}-byte request");
    }
}

async fn read_only_view() {
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    for len in [10, 5 << 20] {
        let data = pattern(len, 9);
        let seen = actor.inspect(data.clone()).await.expect("inspect");
        let expected =
            Inspected { kind: "memoryview".into(), readonly: true, length: len as u64, checksum: checksum(&data) };
        assert_eq!(seen, expected);
        let refused = actor.write_attempt(data).await.expect("write_attempt");
        assert!(refused.starts_with("TypeError: cannot modify read-only memory"), "{refused}");
    }
}

async fn any_buffer() {
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    for size in [1000u64, 3 << 20] {
        let expected: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        for kind in ["bytes", "bytearray", "memoryview", "array"] {
            let got = actor.make(Make { size, kind: kind.into() }).await.expect(kind);
            assert!(got[..] == expected[..], "{kind} of {size} bytes");
        }
        let floats = actor.make(Make { size, kind: "floats".into() }).await.expect("floats");
        let one = 1.0f32.to_ne_bytes();
        assert_eq!(floats.len() as u64, size / 4 * 4);
        assert!(floats.chunks(4).all(|chunk| chunk == one), "an array('f') arrives as its bytes");
    }
    let err = actor.make(Make { size: 1, kind: "int".into() }).await.expect_err("an int has no buffer");
    let text = err.to_string();
    assert!(text.contains("expected bytes-like object, got int"), "{text}");
}

async fn kept_view() {
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let conn = connection(&actor).await;
    let kept = pattern(2 << 20, 0xAA);
    assert_eq!(actor.keep(kept.clone()).await.expect("keep"), 1);
    let (first, last) = (kept[1], kept[kept.len() - 1]);
    // The kept region stays lent while other large requests come and go; none may reuse it.
    for seed in 0..8u8 {
        let other = pattern(2 << 20, seed);
        let seen = actor.inspect(other.clone()).await.expect("inspect");
        assert_eq!(seen.checksum, checksum(&other));
        assert_eq!(actor.kept_firsts(()).await.expect("kept"), vec![first, last], "after request {seed}");
    }
    let lent = conn.shared_memory_lent().expect("on");
    assert!(lent.0 >= 1 && lent.1 >= 2 << 20, "the kept view holds its region: {lent:?}");
    assert_eq!(actor.forget(()).await.expect("forget"), 1);
    assert_eq!(all_released(&conn).await, (0, 0), "collected views release their region");
}

async fn dead_child() {
    let actor = SharedMemory::spawn(builder().restart_limit(0, Duration::from_secs(60))).await.expect("spawn");
    let conn = connection(&actor).await;
    let pid = conn.pid();
    let weak = Arc::downgrade(&conn);
    drop(conn);
    let err = actor.die(pattern(1 << 20, 5)).await.expect_err("the child exits");
    assert!(matches!(err, PythonExecutionError::ChildExited { .. }), "{err:?}");
    assert!(crate::common::wait_gone(pid, 5).await, "the child is gone");
    let actor_ref = actor.actor_ref().expect("a spawned handle has a local actor");
    actor_ref.stop_gracefully().await.expect("stop");
    actor_ref.wait_for_shutdown().await;
    // The connection, and with it the parent's arenas and their descriptors, is dropped.
    for _ in 0..200 {
        if weak.strong_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(weak.strong_count(), 0, "the dead child's connection (and arenas) were dropped");
}

/// What the child and the parent hold of the parent's arena, once the child had time to release
/// what it does not keep (a release may follow its reply by a few milliseconds).
async fn settled(conn: &snake_ipc::Connection<PythonExecutionError>) -> (usize, usize) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.shared_memory_lent().expect("shared memory is on")
}

async fn handed_back() {
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let conn = connection(&actor).await;
    for len in [1 << 20, 20 << 20] {
        let data = pattern(len, 11);
        let back = actor.echo(Blob { data: data.clone(), tag: 1 }).await.expect("echo");
        assert!(back.data[..] == data[..], "{len} bytes come back unchanged");
        // The child kept nothing: only the reply, read in place in the parent's own arena,
        // holds the region the request went out in.
        let (regions, bytes) = settled(&conn).await;
        assert_eq!(regions, 1, "the reply holds the request's region");
        assert!(bytes >= len, "{bytes} bytes held for {len}");
        let slice = back.data.clone().into_bytes().slice(10..20);
        drop(back);
        assert_eq!(settled(&conn).await.0, 1, "a slice of the reply still holds it");
        drop(slice);
        assert_eq!(all_released(&conn).await, (0, 0), "freed once the reply dropped");
    }
}

async fn handed_back_and_kept() {
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let conn = connection(&actor).await;
    for parent_first in [true, false] {
        let data = pattern(3 << 20, 12);
        let back = actor.echo_keep(data.clone()).await.expect("echo_keep");
        assert!(back[..] == data[..]);
        assert_eq!(settled(&conn).await.0, 1, "held by both sides");
        if parent_first {
            drop(back);
            assert_eq!(settled(&conn).await.0, 1, "the child's kept view holds it");
            assert_eq!(actor.forget(()).await.expect("forget"), 1);
        } else {
            assert_eq!(actor.forget(()).await.expect("forget"), 1);
            assert_eq!(settled(&conn).await.0, 1, "the parent's reply holds it");
            assert!(back[..] == data[..], "and it was not reused meanwhile");
            drop(back);
        }
        assert_eq!(all_released(&conn).await, (0, 0), "parent first: {parent_first}");
    }
}

/// A large reply lies in the child's arena; sent back to the same child, it crosses as a
/// reference to that range, which the child holds while Python keeps its view. To another
/// child it is copied.
async fn reply_sent_back() {
    const SIZE: u64 = 2 << 20;
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let conn = connection(&actor).await;
    let made = actor.make(Make { size: SIZE, kind: "fill-7".into() }).await.expect("make");
    assert!(made.len() == SIZE as usize && made.iter().all(|&b| b == 7));
    assert_eq!(made.as_ptr() as usize % snake_ipc::shm::align::ALIGN, 0, "laid out aligned in the arena");
    assert_eq!(actor.keep(made.clone()).await.expect("keep"), 1);
    assert_eq!(settled(&conn).await, (0, 0), "nothing was copied into the parent's arena");
    // Only the child's kept view holds the range now; the child's later replies, written into
    // its arena and released as they drop, must not reuse it.
    drop(made);
    for seed in 10..16u8 {
        let other = actor.make(Make { size: SIZE, kind: format!("fill-{seed}") }).await.expect("make");
        assert!(other.iter().all(|&b| b == seed));
        drop(other);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(actor.kept_firsts(()).await.expect("kept"), vec![7, 7], "after reply {seed}");
    }
    assert_eq!(actor.forget(()).await.expect("forget"), 1);

    // Echoed: the child received a view of its own arena and returns it, as a copy.
    let made = actor.make(Make { size: SIZE, kind: "fill-9".into() }).await.expect("make");
    let back = actor.echo(Blob { data: made.clone(), tag: 3 }).await.expect("echo");
    assert!(back.data[..] == made[..] && back.tag == 4);
    drop(back);

    // Another child cannot read this child's arena: the value is copied to it.
    let other = SharedMemory::spawn(builder()).await.expect("spawn");
    let other_conn = connection(&other).await;
    assert_eq!(other.keep(made.clone()).await.expect("keep"), 1);
    let (regions, bytes) = settled(&other_conn).await;
    assert!(regions == 1 && bytes >= SIZE as usize, "copied into the parent's arena: {regions} {bytes}");
    assert_eq!(other.kept_firsts(()).await.expect("kept"), vec![9, 9]);
    assert_eq!(other.forget(()).await.expect("forget"), 1);
    assert_eq!(all_released(&other_conn).await, (0, 0));
}

/// A value that came back by reference to the sender's own arena, sent on to the same child,
/// crosses as a reference again (a loan), both ways: no copy, no new region, and the region
/// stays until the last holder on either side lets go.
async fn lent_again() {
    const SIZE: usize = 2 << 20;
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let conn = connection(&actor).await;

    // The parent's arena: an echo hands the request's region back; sent on, it is lent again.
    let data = pattern(SIZE, 21);
    let back = actor.echo(Blob { data: data.clone(), tag: 1 }).await.expect("echo");
    let first = back.data.clone();
    let mut current = back.data;
    for round in 0..4 {
        let again = actor.echo(Blob { data: current.clone(), tag: round }).await.expect("echo again");
        assert!(again.data[..] == data[..], "round {round}: the bytes are intact");
        assert_eq!(again.data.as_ptr(), first.as_ptr(), "round {round}: the same bytes of the same region");
        current = again.data;
    }
    let (regions, bytes) = settled(&conn).await;
    assert!(regions == 1 && bytes < 2 * SIZE, "nothing was copied into a new region: {regions} {bytes}");
    // The child keeps a view of the loan; the parent's own values go.
    assert_eq!(actor.keep(current.clone()).await.expect("keep"), 1);
    drop((first, current));
    assert_eq!(settled(&conn).await.0, 1, "the child's kept view holds the region");
    for seed in 0..4u8 {
        let other = pattern(SIZE, seed);
        assert_eq!(actor.inspect(other.clone()).await.expect("inspect").checksum, checksum(&other));
    }
    let (first_byte, last_byte) = (data[1], data[SIZE - 1]);
    assert_eq!(actor.kept_firsts(()).await.expect("kept"), vec![first_byte, last_byte], "not reused meanwhile");
    assert_eq!(actor.forget(()).await.expect("forget"), 1);
    assert_eq!(all_released(&conn).await, (0, 0), "freed once the loan came back");

    // The child's arena: a reply sent back to the child is handed back to it, and the child's
    // echo of it lends it again: the parent reads the very bytes it got first.
    let made = actor.make(Make { size: SIZE as u64, kind: "fill-5".into() }).await.expect("make");
    let back = actor.echo(Blob { data: made.clone(), tag: 0 }).await.expect("echo");
    assert!(back.data.len() == SIZE && back.data.iter().all(|&b| b == 5));
    assert_eq!(back.data.as_ptr(), made.as_ptr(), "the child's own region, lent again");
    assert_eq!(settled(&conn).await, (0, 0), "nothing crossed through the parent's arena");
    drop(made);
    // The loan keeps the child's region: later replies, written into its arena, must not reuse it.
    for seed in 10..14u8 {
        let other = actor.make(Make { size: SIZE as u64, kind: format!("fill-{seed}") }).await.expect("make");
        assert!(other.iter().all(|&b| b == seed));
        drop(other);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(back.data.iter().all(|&b| b == 5), "the lent bytes are intact after reply {seed}");
    }
}

/// A buffer made by `shared_bytes` is filled in the parent's arena and lent to the child by
/// reference each time it is sent; the region lives while the parent's value or a view Python
/// keeps does. Without room it lies on the heap; on a pool, in the key's worker's arena.
async fn filled_in_place() {
    const SIZE: usize = 2 << 20;
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let conn = connection(&actor).await;
    let mut buffer = actor.shared_bytes(SIZE);
    assert!(buffer.in_shared_memory() && in_a_memfd(buffer.as_ptr()), "{buffer:?}");
    assert!(buffer.iter().all(|&b| b == 0), "zeroed");
    let data = pattern(SIZE, 9);
    buffer.copy_from_slice(&data);
    let placed = buffer.freeze();
    assert_eq!(settled(&conn).await.0, 1, "one region, reserved");
    for tag in 0..3 {
        let back = actor.echo(Blob { data: placed.clone(), tag }).await.expect("echo");
        assert!(back.data[..] == data[..], "call {tag}: the bytes are intact");
        assert_eq!(back.data.as_ptr(), placed.as_ptr(), "call {tag}: lent and handed back, never copied");
    }
    assert_eq!(actor.inspect(placed.clone()).await.expect("inspect").checksum, checksum(&data));
    let (regions, bytes) = settled(&conn).await;
    assert!(regions == 1 && bytes < 2 * SIZE, "nothing was copied into a new region: {regions} {bytes}");

    // Python keeps a view of it: the region outlives the parent's value.
    assert_eq!(actor.keep(placed.clone()).await.expect("keep"), 1);
    drop(placed);
    assert_eq!(settled(&conn).await.0, 1, "the child's view holds the region");
    for seed in 0..4u8 {
        let other = pattern(SIZE, seed);
        assert_eq!(actor.inspect(other.clone()).await.expect("inspect").checksum, checksum(&other));
    }
    assert_eq!(actor.kept_firsts(()).await.expect("kept"), vec![data[1], data[SIZE - 1]], "not reused meanwhile");
    assert_eq!(actor.forget(()).await.expect("forget"), 1);
    assert_eq!(all_released(&conn).await, (0, 0), "freed once the view was collected");

    // The low-level API's way to the same buffer: a message to the actor.
    let actor_ref = actor.actor_ref().expect("a spawned handle has a local actor");
    let mut buffer = actor_ref.ask(snake::SharedBuffer::new(SIZE)).await.expect("a buffer");
    assert!(buffer.in_shared_memory() && buffer.iter().all(|&b| b == 0), "{buffer:?}");
    buffer.copy_from_slice(&data);
    let placed = buffer.freeze();
    let back = actor.echo(Blob { data: placed.clone(), tag: 9 }).await.expect("echo");
    assert_eq!(back.data.as_ptr(), placed.as_ptr(), "lent and handed back, never copied");
    drop((back, placed));
    assert_eq!(all_released(&conn).await, (0, 0));

    // Past the arena's limit the buffer lies on the heap, and is copied when sent.
    let small = SharedMemory::spawn(builder().shared_memory_limit(4 << 20)).await.expect("spawn");
    let mut buffer = small.shared_bytes(8 << 20);
    assert!(!buffer.in_shared_memory() && !in_a_memfd(buffer.as_ptr()), "{buffer:?}");
    buffer[100] = 7;
    let on_heap = buffer.freeze();
    let inspected = small.inspect(on_heap.clone()).await.expect("inspect");
    assert_eq!((inspected.length, inspected.checksum), (8 << 20, checksum(&on_heap)));

    // On a pool, a keyed handle's buffer lies in its worker's arena: its calls lend it; a call
    // another worker serves copies it.
    let pool = SharedMemory::pool(builder().workers(2)).await.expect("pool");
    let home = pool.with_key("home");
    let mut buffer = home.shared_bytes(SIZE);
    assert!(buffer.in_shared_memory(), "{buffer:?}");
    buffer.copy_from_slice(&data);
    let placed = buffer.freeze();
    for tag in 0..3 {
        let back = home.echo(Blob { data: placed.clone(), tag }).await.expect("echo");
        assert_eq!(back.data.as_ptr(), placed.as_ptr(), "call {tag} on the key's worker: by reference");
    }
    let mut copied = 0;
    for key in 0..10 {
        let back = pool.with_key(&key).echo(Blob { data: placed.clone(), tag: key }).await.expect("echo");
        assert!(back.data[..] == data[..], "key {key}: the bytes are intact");
        copied += usize::from(back.data.as_ptr() != placed.as_ptr());
    }
    assert!((1..10).contains(&copied), "some keys' worker is the other one, which got a copy: {copied} of 10");

    // Unkeyed, it lies in the arena of the worker the next call goes to, in either routing.
    for routing in [snake::Routing::RoundRobin, snake::Routing::LeastLoaded] {
        let pool = SharedMemory::pool(builder().workers(2).routing(routing)).await.expect("pool");
        for round in 0..4 {
            let mut buffer = pool.shared_bytes(SIZE);
            buffer.copy_from_slice(&data);
            let placed = buffer.freeze();
            let back = pool.echo(Blob { data: placed.clone(), tag: round }).await.expect("echo");
            assert_eq!(back.data.as_ptr(), placed.as_ptr(), "{routing:?}, round {round}: the next call's worker");
        }
    }
}

/// A buffer filled for a child that then dies stays intact in the parent, and crosses to the
/// child that replaces it as any other buffer does: copied once.
async fn filled_outlives_child() {
    const SIZE: usize = 1 << 20;
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let pid = connection(&actor).await.pid();
    let data = pattern(SIZE, 3);
    let mut buffer = actor.shared_bytes(SIZE);
    buffer.copy_from_slice(&data);
    let placed = buffer.freeze();
    // The handler keeps its view of the loan and exits the process.
    let err = actor.die(placed.clone()).await.expect_err("the child exits");
    assert!(matches!(err, PythonExecutionError::ChildExited { .. }), "{err:?}");
    assert!(crate::common::wait_gone(pid, 5).await, "the child is gone");
    assert!(placed[..] == data[..], "the parent's value is intact after its child died");

    // The actor starts a new child; the buffer lies in the dead one's arena, so it is copied.
    let back = actor.echo(Blob { data: placed.clone(), tag: 1 }).await.expect("echo on the new child");
    assert_ne!(connection(&actor).await.pid(), pid, "a new child");
    assert!(back.data[..] == data[..], "the bytes cross intact");
    assert_ne!(back.data.as_ptr(), placed.as_ptr(), "copied into the new child's arena");
    // A buffer filled now lies in the new child's arena, and crosses by reference.
    let mut again = actor.shared_bytes(SIZE);
    assert!(again.in_shared_memory(), "{again:?}");
    again.copy_from_slice(&data);
    let again = again.freeze();
    let back = actor.echo(Blob { data: again.clone(), tag: 2 }).await.expect("echo");
    assert_eq!(back.data.as_ptr(), again.as_ptr(), "lent and handed back");
    drop(placed);
}

/// A callback's argument is encoded straight into the child's arena, as a reply is, and a view
/// the handler received goes back by reference.
async fn callback_arguments() {
    const SIZE: u64 = 1 << 20;
    let actor = SharedMemory::spawn(builder()).await.expect("spawn");
    let conn = connection(&actor).await;
    let built = actor.call_back(Make { size: SIZE, kind: "fill-5".into() }).await.expect("call_back");
    let expected = checksum(&vec![5u8; SIZE as usize]);
    assert_eq!(built, Received { length: SIZE, checksum: expected, in_shared_memory: true, aligned: true });
    let small = actor.call_back(Make { size: 100, kind: "fill-5".into() }).await.expect("call_back");
    assert_eq!((small.length, small.in_shared_memory), (100, false), "a small argument goes over the socket");
    // The view the handler got, passed on: a reference to the parent's own arena, no copy.
    let sent = pattern(SIZE as usize, 3);
    let relayed = actor.relay(sent.clone()).await.expect("relay");
    assert_eq!(relayed, Received { length: SIZE, checksum: checksum(&sent), in_shared_memory: true, aligned: true });
    assert_eq!(all_released(&conn).await, (0, 0), "the region the call used is released");

    // The other way: Rust's reply is written into the parent's arena as its frame is encoded, and
    // Python reads it there.
    let fetched = actor.fetch(Make { size: SIZE, kind: "fill-6".into() }).await.expect("fetch");
    assert_eq!(fetched, Received { length: SIZE, checksum: expected / 5 * 6, in_shared_memory: true, aligned: true });
    assert_eq!(all_released(&conn).await, (0, 0), "released once Python dropped the view");
}

async fn socket_only() {
    let actor = SharedMemory::spawn(builder().shared_memory(false)).await.expect("spawn");
    let conn = connection(&actor).await;
    assert_eq!(conn.shared_memory_lent(), None);
    let data = pattern(3 << 20, 6);
    let back = actor.echo(Blob { data: data.clone(), tag: 1 }).await.expect("echo");
    assert!(back.data[..] == data[..]);
    let seen = actor.inspect(data.clone()).await.expect("inspect");
    assert_eq!((seen.kind.as_str(), seen.readonly), ("memoryview", true));
}

/// The typed fixture answers, and passes `mypy --strict` and pyright against the stubs generated
/// for it (`SharedBytes` is `memoryview | bytes | bytearray` there).
async fn typed_fixture() {
    let actor = TypedBuffers::spawn(builder()).await.expect("spawn");
    let actor_ref = actor.actor_ref().expect("a spawned handle has a local actor");
    let connections = actor_ref.ask(snake::__private::WorkerConnections).await.expect("connections");
    let conn = connections.into_iter().next().expect("one worker");
    let data = pattern(2 << 20, 13);
    let back = actor.echo(Blob { data: data.clone(), tag: 41 }).await.expect("echo");
    assert_eq!((back.tag, back.data.len()), (42, data.len()));
    assert!(back.data[..] == data[..]);
    let middle = actor.middle(data.clone()).await.expect("middle");
    assert!(middle[..] == data[1..data.len() - 1]);
    let reversed = actor.reversed_copy(data.clone()).await.expect("reversed_copy");
    assert!(reversed.iter().eq(data.iter().rev()));
    drop((back, middle, reversed));
    assert_eq!(all_released(&conn).await, (0, 0));

    let declarations = snake::schema::Declarations::collect();
    let actor = declarations.actors.iter().find(|a| a.name == "TypedBuffers").expect("declared").clone();
    let files = snake::stubs::render(&declarations.registry, &[actor], &[]).expect("stubs render");
    let actors = &files["snake_actors.py"];
    let middle = "def middle(self, request: memoryview | bytes | bytearray, /) -> memoryview | bytes | bytearray:";
    assert!(actors.contains(middle), "{actors}");
    type_check_with_stubs(&files, "shared_memory_typed.py");
}
