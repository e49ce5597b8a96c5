"""Handlers that call back into Rust, through both spellings of the runtime module."""

import asyncio
import time

import kameo
import snake


def lookup_sync(msg):
    """Blocking callback from a sync handler (GIL released while waiting)."""
    return kameo.callback_handle({"Lookup": {"query": msg}})


async def lookup_async(msg):
    """Awaited callback from an async handler."""
    return await snake.callback_handle({"Lookup": {"query": msg}})


async def fan_out(msg):
    """Ten concurrent callbacks from one handler; each answer must match its own question."""
    keys = [f"{msg['id']}-{i}" for i in range(10)]
    answers = await asyncio.gather(
        *(snake.callback_handle({"Echo": {"key": key}}) for key in keys)
    )
    return [{"key": key, "answer": answer["Text"]} for key, answer in zip(keys, answers)]


def measure(msg):
    """Passes `size` bytes of 9 to the Rust callback handler, which describes them."""
    return kameo.callback_handle({"Measure": {"data": bytes([9]) * msg["size"]}})


def fail(msg):
    """The Rust handler fails; the exception propagates unhandled."""
    return snake.callback_handle({"Fail": {"message": msg["text"]}})


async def fail_and_wrap(msg):
    """Catches the documented exception class and raises something else."""
    try:
        return await snake.callback_handle({"Fail": {"message": msg["text"]}})
    except snake.CallbackError as err:
        raise RuntimeError(f"wrapped: {err}") from err


async def reenter_async(msg):
    """Asks Rust, which calls this same actor again with depth - 1."""
    if msg["depth"] == 0:
        return [0]
    deeper = await snake.callback_handle({"Reenter": {"depth": msg["depth"]}})
    return [msg["depth"], *deeper["Depths"]]


def reenter_sync(msg):
    if msg["depth"] == 0:
        return [0]
    deeper = kameo.callback_handle({"Reenter": {"depth": msg["depth"]}})
    return [msg["depth"], *deeper["Depths"]]


def gate(msg):
    """Blocks in a callback until Rust opens the gate; quick calls answer meanwhile."""
    if msg["wait"]:
        return kameo.callback_handle({"Wait": {}})["Text"]
    return "quick"


_late: list = []


def late(msg):
    """Calls back only after its call has timed out in the parent, going on past the
    `snake.Cancelled` its cancel raises to do so; records what happened."""
    if msg["report"]:
        return list(_late)
    try:
        time.sleep(msg["sleep"])
    except snake.Cancelled:
        pass
    try:
        snake.callback_handle({"Echo": {"key": "too late"}})
        _late.append("answered")
    except snake.CallbackError as err:
        _late.append(str(err))
    return []


def no_callbacks(_msg):
    """An actor spawned without a callback type still has the module; calling it raises."""
    try:
        snake.callback_handle({"Echo": {"key": "x"}})
    except snake.CallbackError as err:
        return str(err)
    return "no error"


async def stream_async(msg):
    """Consumes a stream Rust answers with, with async for."""
    items = []
    async for item in snake.callback_stream({"Count": {"n": msg["n"], "fail_at": None}}):
        items.append(item["Text"])
    return items


def stream_sync(msg):
    """The same with a plain for loop in a sync handler."""
    return [item["Text"] for item in kameo.callback_stream({"Count": {"n": msg["n"], "fail_at": None}})]


def chunks(msg):
    """Streams `n` items of 1 MiB from Rust; says how long each is, its byte, and its alignment."""
    import numpy as np

    seen = []
    for item in kameo.callback_stream({"Chunks": {"n": msg["n"], "size": 1 << 20}}):
        view = item["Data"]
        address = int(np.frombuffer(view, dtype=np.uint8).__array_interface__["data"][0])
        seen.append(f"{len(view)} of {view[0]}, {'aligned' if address % 64 == 0 else 'unaligned'}")
    return seen


async def stream_failing(msg):
    items = []
    try:
        async for item in snake.callback_stream({"Count": {"n": msg["n"], "fail_at": msg["n"] // 2}}):
            items.append(item["Text"])
    except snake.CallbackError as err:
        items.append(f"error: {err}")
    return items


async def stream_partial(msg):
    """Stops after a few items; closing the iterator drops the Rust stream."""
    stream = snake.callback_stream({"Count": {"n": 1_000_000, "fail_at": None}})
    items = []
    async for item in stream:
        items.append(item["Text"])
        if len(items) == msg["n"]:
            break
    await stream.aclose()
    return items


def _current_span():
    try:
        from opentelemetry import trace
    except ImportError:
        return {"installed": False, "trace_id": "", "span_id": ""}
    context = trace.get_current_span().get_span_context()
    return {"installed": True, "trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def otel_probe(msg):
    """Calls back into Rust, then reports the OpenTelemetry span current in the handler."""
    kameo.callback_handle({"Lookup": {"query": msg}})
    return _current_span()


async def otel_probe_async(msg):
    await snake.callback_handle({"Lookup": {"query": msg}})
    return _current_span()
