//! The markdown the run prints.

use std::fmt::Write as _;
use std::time::Duration;

use crate::floor::Floor;
use crate::payloads::{ARRAY_SIZES, CALLBACK_SIZE, HANDOFF_SIZE, Payloads};
use crate::peers::Peers;
use crate::placement;
use crate::plan::{BYTES_SIZES, FLOOR_MESSAGE, MIB_1, Plan, SMALL_PAYLOAD, WINDOW};
use crate::project::Project;
use crate::stats::Latency;
use crate::units::{rate, time};

/// The design targets: reported, never asserted.
const TARGET_SYNC_P50: f64 = 1.5;
const TARGET_ASYNC_P50: f64 = 2.0;
const TARGET_PIPELINED_SYNC: f64 = 100_000.0;
const TARGET_CALLBACK_P50: f64 = 1.5;
const TARGET_STREAM_ITEMS: f64 = 200_000.0;
const TARGET_TRACING_OVERHEAD: f64 = 1.10;
/// Bytes round trips from 1 MiB up, as a fraction of the socket's own round trip of that size.
const TARGET_BYTES: f64 = 0.5;
/// A buffer already in the arena costs what a small call costs: no payload moves.
const TARGET_HANDOFF: f64 = 1.25;

/// How far the floor may move between the start and the end of a run before the table says
/// its ratios are unreliable.
const FLOOR_DRIFT: f64 = 1.3;

/// Everything one placement measures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Figures {
    pub(crate) floor: Floor,
    pub(crate) project: Project,
    pub(crate) payloads: Payloads,
    /// The Python peers of the small calls.
    pub(crate) peers: Peers,
    /// Sync round trips from `block_on` on the main thread of a multi-thread runtime.
    pub(crate) from_main: Latency,
    /// Sync round trips with a current-thread parent runtime.
    pub(crate) current_thread: Latency,
    /// The same with a subscriber recording snake's spans.
    pub(crate) traced: Latency,
    /// The blocking std floor again, after everything else.
    pub(crate) floor_after: Latency,
}

pub(crate) fn intro(plan: &Plan) -> String {
    let mode = if plan.quick { "quick run (10x fewer calls)" } else { "full run" };
    format!(
        "# snake round-trip benchmark\n\n\
         {mode}: {warmup} warm-up + {iters} measured calls per latency ({lw} + {li} with 1 MiB), \
         pipelined runs of {secs:.1} s with {WINDOW} in flight.\n\n\
         Floor: {FLOOR_MESSAGE}-byte messages (and a 4-byte length) echoed over a socketpair by a copy of \
         this binary with blocking std I/O. A small call carries a {SMALL_PAYLOAD}-character string, a frame \
         of about the same size. Unless a row says otherwise, calls are made from a task spawned on a \
         tokio multi-thread runtime (the default of `#[snake::main]`).\n\n\
         Ratios compare like with like: p50 with the floor's p50, p99 with its p99, payload rows with the \
         floor of the same size, pipelined rows with the pipelined floor (an upper bound no framework \
         reaches: the echo answers a whole window with one write).\n",
        warmup = plan.warmup,
        iters = plan.iters,
        lw = plan.large_warmup,
        li = plan.large_iters,
        secs = plan.pipeline_for.as_secs_f64(),
    )
}

pub(crate) fn table(placement: &str, figures: &Figures) -> String {
    let Figures { floor, project, payloads, peers, from_main, current_thread, traced, floor_after } = figures;
    let std_small = floor.std_small;
    let tokio_small = floor.tokio_small;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## {placement} (CPUs allowed: {}; tokio multi-thread parent with {workers} worker{})\n",
        placement::allowed_cpus(),
        if workers == 1 { "" } else { "s" },
    );
    out.push_str("| measurement | figure | floor | x floor | x tokio floor | target | met |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");

    for (name, figure) in [
        ("floor, blocking std, 64 B, p50", std_small.p50),
        ("floor, blocking std, 64 B, p99", std_small.p99),
        ("floor, blocking std, 4 KiB, p50", floor.std_4k.p50),
        ("floor, blocking std, 1 MiB, p50", floor.std_1m.p50),
    ] {
        row(&mut out, [name, &time(figure), "", "", "", "", ""]);
    }
    let tokio_p50 = "floor, tokio current-thread parent, 64 B, p50";
    latency_row(&mut out, tokio_p50, tokio_small.p50, std_small.p50, None);
    let tokio_p99 = "floor, tokio current-thread parent, 64 B, p99";
    latency_row(&mut out, tokio_p99, tokio_small.p99, std_small.p99, None);
    let pipelined_floor = format!("floor, pipelined, 64 B, {WINDOW} in flight");
    row(&mut out, [&pipelined_floor, &rate(floor.pipelined, "msg/s"), "", "", "", "", ""]);
    let again = "floor, blocking std, 64 B, p50, again after the suite";
    latency_row(&mut out, again, floor_after.p50, std_small.p50, None);
    row(&mut out, ["child start (spawn, import, handshake)", &time(project.start), "", "", "", "", ""]);

    let sync_ratio = ratio(project.sync.p50, std_small.p50);
    row(
        &mut out,
        [
            "sync round trip p50",
            &time(project.sync.p50),
            &time(std_small.p50),
            &format!("{sync_ratio:.2}x"),
            &times(project.sync.p50, tokio_small.p50),
            &format!("<= {TARGET_SYNC_P50}x floor"),
            met(sync_ratio <= TARGET_SYNC_P50),
        ],
    );
    latency_row(&mut out, "sync round trip p99", project.sync.p99, std_small.p99, Some(tokio_small.p99));
    let async_ratio = ratio(project.asynchronous.p50, std_small.p50);
    row(
        &mut out,
        [
            "async round trip p50",
            &time(project.asynchronous.p50),
            &time(std_small.p50),
            &format!("{async_ratio:.2}x"),
            &times(project.asynchronous.p50, tokio_small.p50),
            &format!("<= {TARGET_ASYNC_P50}x floor"),
            met(async_ratio <= TARGET_ASYNC_P50),
        ],
    );
    latency_row(&mut out, "async round trip p99", project.asynchronous.p99, std_small.p99, Some(tokio_small.p99));
    for (name, typed, target) in [
        ("sync round trip p50, typed handle", project.sync_typed.p50, TARGET_SYNC_P50),
        ("async round trip p50, typed handle", project.async_typed.p50, TARGET_ASYNC_P50),
    ] {
        let typed_ratio = ratio(typed, std_small.p50);
        row(
            &mut out,
            [
                name,
                &time(typed),
                &time(std_small.p50),
                &format!("{typed_ratio:.2}x"),
                &times(typed, tokio_small.p50),
                &format!("<= {target}x floor"),
                met(typed_ratio <= target),
            ],
        );
    }
    latency_row(
        &mut out,
        "sync round trip p99, typed handle",
        project.sync_typed.p99,
        std_small.p99,
        Some(tokio_small.p99),
    );
    let name = "sync round trip p50, caller in `block_on` on the main thread";
    latency_row(&mut out, name, from_main.p50, std_small.p50, Some(tokio_small.p50));
    let name = "sync round trip p50, current-thread parent runtime";
    latency_row(&mut out, name, current_thread.p50, std_small.p50, Some(tokio_small.p50));

    row(
        &mut out,
        [
            &format!("pipelined sync, 1 child, {WINDOW} in flight"),
            &rate(project.pipelined_sync, "calls/s"),
            &rate(floor.pipelined, "msg/s"),
            &format!("{:.3}x", project.pipelined_sync / floor.pipelined),
            "",
            &format!(">= {}", rate(TARGET_PIPELINED_SYNC, "calls/s")),
            met(project.pipelined_sync >= TARGET_PIPELINED_SYNC),
        ],
    );
    row(
        &mut out,
        [
            &format!("pipelined sync, typed handle, 1 child, {WINDOW} in flight"),
            &rate(project.pipelined_sync_typed, "calls/s"),
            &rate(floor.pipelined, "msg/s"),
            &format!("{:.3}x", project.pipelined_sync_typed / floor.pipelined),
            "",
            "",
            "",
        ],
    );
    row(
        &mut out,
        [
            &format!("pipelined async, 1 child, {WINDOW} in flight"),
            &rate(project.pipelined_async, "calls/s"),
            &rate(floor.pipelined, "msg/s"),
            &format!("{:.3}x", project.pipelined_async / floor.pipelined),
            "",
            "",
            "",
        ],
    );
    peer_rows(&mut out, peers, floor);
    for (name, callback) in [
        ("callback round trip (Python -> Rust -> Python), blocking, p50", project.callback_sync),
        ("callback round trip, awaited in `async def`, p50", project.callback_async),
    ] {
        let callback_ratio = ratio(callback.p50, project.sync.p50);
        row(
            &mut out,
            [
                name,
                &time(callback.p50),
                &format!("call {}", time(project.sync.p50)),
                &format!("{callback_ratio:.2}x call"),
                &format!("p99 {}", time(callback.p99)),
                &format!("<= {TARGET_CALLBACK_P50}x call p50"),
                met(callback_ratio <= TARGET_CALLBACK_P50),
            ],
        );
    }
    for (name, items) in [
        ("stream, plain generator, small items", project.stream_sync),
        ("stream, async generator, small items", project.stream_async),
    ] {
        row(
            &mut out,
            [
                name,
                &rate(items, "items/s"),
                "",
                "",
                "",
                &format!(">= {}", rate(TARGET_STREAM_ITEMS, "items/s")),
                met(items >= TARGET_STREAM_ITEMS),
            ],
        );
    }
    let overhead = ratio(traced.p50, current_thread.p50);
    row(
        &mut out,
        [
            "sync round trip p50, tracing on (spans recorded, no exporter), current-thread",
            &time(traced.p50),
            &format!("off {}", time(current_thread.p50)),
            &format!("{overhead:.2}x off"),
            "",
            &format!("<= {TARGET_TRACING_OVERHEAD:.2}x off"),
            met(overhead <= TARGET_TRACING_OVERHEAD),
        ],
    );

    let name = "sync round trip p50, 4 KiB string";
    latency_row(&mut out, name, project.sync_4k.p50, floor.std_4k.p50, None);
    let name = "sync round trip p50, 1 MiB string";
    latency_row(&mut out, name, project.sync_1m.p50, floor.std_1m.p50, None);
    for (i, len) in BYTES_SIZES.into_iter().enumerate() {
        let (figure, socket) = (payloads.shared[i].p50, floor.std_bytes[i].p50);
        let name = format!("bytes round trip p50, {}, `SharedBytes` (floor: socket, same size)", size(len));
        let (target, met_it) = if len >= MIB_1 {
            (format!("<= {TARGET_BYTES:.2}x"), met(ratio(figure, socket) <= TARGET_BYTES))
        } else {
            (String::new(), "")
        };
        row(&mut out, [&name, &time(figure), &time(socket), &times(figure, socket), "", &target, met_it]);
        if let Some(peer) = payloads.peer[i] {
            let name = format!("peer: `multiprocessing.shared_memory` + numpy, {}, p50", size(len));
            row(&mut out, [&name, &time(peer), &time(socket), &times(peer, socket), "", "", ""]);
        }
    }

    let handoffs = [
        (payloads.handoff[0].p50, "the child made, sent back to it (a reference to its arena"),
        (payloads.handoff[1].p50, "an echo put in the parent's arena, sent on to the child (lent again by reference"),
    ];
    for (handoff, what) in handoffs {
        let handoff_name = format!(
            "bytes handoff p50, {} `SharedBytes` {what}; the handler returns its length; floor: socket, 64 B)",
            size(HANDOFF_SIZE)
        );
        let handoff_ratio = ratio(handoff, project.sync_typed.p50);
        row(
            &mut out,
            [
                &handoff_name,
                &time(handoff),
                &time(std_small.p50),
                &times(handoff, std_small.p50),
                &format!("{handoff_ratio:.2}x typed call"),
                &format!("<= {TARGET_HANDOFF:.2}x typed call p50"),
                met(handoff_ratio <= TARGET_HANDOFF),
            ],
        );
    }

    if let Some(at) = BYTES_SIZES.iter().position(|&bytes| bytes == CALLBACK_SIZE) {
        let socket = floor.std_bytes[at].p50;
        let ways =
            [("fetching", "from Rust", payloads.callbacks[0].p50), ("sending", "to Rust", payloads.callbacks[1].p50)];
        for (verb, way, figure) in ways {
            let name = format!(
                "blocking callback {verb} {} `SharedBytes` {way}, p50 (timed in Python; floor: socket round trip, same size)",
                size(CALLBACK_SIZE)
            );
            row(&mut out, [&name, &time(figure), &time(socket), &times(figure, socket), "", "", ""]);
        }
    }

    if let Some(arrays) = &payloads.arrays {
        for (i, len) in ARRAY_SIZES.into_iter().enumerate() {
            let Some(at) = BYTES_SIZES.iter().position(|&bytes| bytes == len) else { continue };
            let socket = floor.std_bytes[at].p50;
            let target = format!("<= {TARGET_BYTES:.2}x");
            let rows = [
                ("sum", "to Python, `arr.sum()`, back as a scalar", arrays.sum[i].p50, arrays.peer_sum[i]),
                ("echo", "back as an array", arrays.echo[i].p50, arrays.peer_echo[i]),
            ];
            for (kind, what, figure, peer) in rows {
                let name =
                    format!("array {kind} p50, {} float32 `Array` ({what}; floor: socket, same size)", size(len));
                let met_it = met(ratio(figure, socket) <= TARGET_BYTES);
                row(&mut out, [&name, &time(figure), &time(socket), &times(figure, socket), "", &target, met_it]);
                if kind == "sum" {
                    // The same sum of a matrix filled once in the arena: no copy per call.
                    let figure = arrays.filled_sum[i].p50;
                    let name = format!(
                        "array sum p50, {} float32 `Array` filled once in the arena (`shared_array`, typed \
                         handle; each call lends it; floor: socket, same size)",
                        size(len)
                    );
                    let met_it = met(ratio(figure, socket) <= TARGET_BYTES);
                    row(&mut out, [&name, &time(figure), &time(socket), &times(figure, socket), "", &target, met_it]);
                }
                if let Some(peer) = peer {
                    let name = format!("peer: `multiprocessing.shared_memory` + numpy {kind}, {}, p50", size(len));
                    row(&mut out, [&name, &time(peer), &time(socket), &times(peer, socket), "", "", ""]);
                }
            }
        }
    }

    let drift = ratio(floor_after.p50, std_small.p50);
    if !(1.0 / FLOOR_DRIFT..=FLOOR_DRIFT).contains(&drift) {
        let _ = writeln!(
            out,
            "\n**The floor moved during this run** ({} at the start, {} at the end): the machine's state \
             changed, and the ratios above compare figures taken under different conditions. Run again.",
            time(std_small.p50),
            time(floor_after.p50),
        );
    }
    out
}

fn size(len: usize) -> String {
    if len >= MIB_1 { format!("{} MiB", len / MIB_1) } else { format!("{} KiB", len / 1024) }
}

fn row(out: &mut String, cells: [&str; 7]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// A latency row without a target: the figure, the floor it is compared with, the ratios.
fn latency_row(out: &mut String, name: &str, figure: Duration, floor: Duration, tokio_floor: Option<Duration>) {
    let tokio_ratio = tokio_floor.map(|tokio_floor| times(figure, tokio_floor)).unwrap_or_default();
    row(out, [name, &time(figure), &time(floor), &times(figure, floor), &tokio_ratio, "", ""]);
}

fn ratio(figure: Duration, floor: Duration) -> f64 {
    figure.as_secs_f64() / floor.as_secs_f64()
}

fn times(figure: Duration, floor: Duration) -> String {
    format!("{:.2}x", ratio(figure, floor))
}

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

/// The Python peers of the small calls, beside the sync rows above them.
fn peer_rows(out: &mut String, peers: &Peers, floor: &Floor) {
    let std_small = floor.std_small;
    for (name, p50) in [
        ("peer: `multiprocessing.Pipe` ping-pong, small string, p50", peers.pipe),
        ("peer: `ProcessPoolExecutor(1)` round trip, small string, p50", peers.pool),
    ] {
        match p50 {
            Some(p50) => latency_row(out, name, p50, std_small.p50, Some(floor.tokio_small.p50)),
            None => row(out, [name, "did not run", "", "", "", "", ""]),
        }
    }
    let name = format!("peer: `ProcessPoolExecutor(1)`, pipelined, {WINDOW} in flight");
    match peers.pool_pipelined {
        Some(calls) => row(
            out,
            [
                &name,
                &rate(calls, "calls/s"),
                &rate(floor.pipelined, "msg/s"),
                &format!("{:.3}x", calls / floor.pipelined),
                "",
                "",
                "",
            ],
        ),
        None => row(out, [&name, "did not run", "", "", "", "", ""]),
    }
}
