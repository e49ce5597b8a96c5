"""Handlers the round-trip benchmark (`benches/roundtrip/`) calls in real child processes.

Each returns its request unchanged, so the benchmark measures the framework's own cost (framing,
conversion, scheduling, wake-ups), not Python work.
"""

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any


def echo_sync(msg: dict[str, Any]) -> dict[str, Any]:
    """A plain `def`: runs on one of the child's sync worker threads."""
    return msg


def make_blob(size: int) -> bytes:
    """`size` zero bytes: the reply lies in the child's arena (from 64 KiB up)."""
    return bytes(size)


def echo_blob(data: memoryview | bytes | bytearray) -> memoryview | bytes | bytearray:
    """The view it got, handed back to the parent's arena: the reply is that range, in place."""
    return data


def blob_len(data: memoryview | bytes | bytearray) -> int:
    """The length of the buffer it got, a view of the child's own arena when Rust sends back a
    buffer this child made: the handoff row moves no payload at all."""
    return len(data)


def array_sum(msg: dict[str, Any]) -> float:
    """`arr.sum()` of the float32 matrix it got (a read-only view of the received frame)."""
    return float(msg["matrix"].sum())


def array_total(matrix: Any) -> float:
    """`arr.sum()` of the float32 matrix it got itself (a typed handle's request)."""
    return float(matrix.sum())


async def echo_async(msg: dict[str, Any]) -> dict[str, Any]:
    """An `async def`: runs on the child's asyncio loop, without yielding to it."""
    return msg


def callback_latencies(msg: dict[str, Any]) -> list[int]:
    """Times `msg["iters"]` blocking callbacks into Rust (Python -> Rust -> Python), in ns."""
    import kameo

    payload = msg["payload"]
    took = []
    for seq in range(msg["iters"]):
        start = time.perf_counter_ns()
        reply = kameo.callback_handle({"seq": seq, "payload": payload})
        took.append(time.perf_counter_ns() - start)
        assert reply["seq"] == seq
    return took


async def callback_latencies_async(msg: dict[str, Any]) -> list[int]:
    """The same with awaited callbacks from an `async def` handler."""
    import snake

    payload = msg["payload"]
    took = []
    for seq in range(msg["iters"]):
        start = time.perf_counter_ns()
        reply = await snake.callback_handle({"seq": seq, "payload": payload})
        took.append(time.perf_counter_ns() - start)
        assert reply["seq"] == seq
    return took


def callback_fetch(request: dict[str, Any]) -> list[int]:
    """Times blocking callbacks that fetch `size` bytes from Rust (a read-only view), in ns."""
    import snake_callbacks

    took = []
    for _ in range(request["iters"]):
        start = time.perf_counter_ns()
        view = snake_callbacks.bench_fetch(request["size"])
        took.append(time.perf_counter_ns() - start)
        assert len(view) == request["size"]
    return took


_PUSHED: dict[int, bytes] = {}


def callback_push(request: dict[str, Any]) -> list[int]:
    """Times blocking callbacks that send `size` bytes (a `bytes`, made once) to Rust, in ns."""
    import snake_callbacks

    data = _PUSHED.setdefault(request["size"], bytes(request["size"]))
    took = []
    for _ in range(request["iters"]):
        start = time.perf_counter_ns()
        length = snake_callbacks.bench_push(data)
        took.append(time.perf_counter_ns() - start)
        assert length == request["size"]
    return took


def count(msg: dict[str, Any]) -> Iterator[int]:
    """Yields `msg["n"]` small items from a plain generator."""
    yield from range(msg["n"])


async def count_async(msg: dict[str, Any]) -> AsyncIterator[int]:
    """Yields `msg["n"]` small items from an async generator."""
    for i in range(msg["n"]):
        yield i
