"""Drives an async generator handler on the child's asyncio loop, pulled only as far as the
parent's credit allows (`snake-runtime/src/child/stream.rs`).

Kept in Python: it is a few awaits, and asyncio's own cancellation semantics do the rest. A
cancelled driver task `aclose()`s the generator, so its `finally` blocks run; an exception from
the generator ends the stream with one error, reported through the sink.
"""

import asyncio
from collections.abc import AsyncGenerator, Awaitable
from typing import Protocol


class Sink(Protocol):
    """The loop-side end of one stream, a `StreamSink` made by the Rust side."""

    def take(self) -> bool:
        """Takes one unit of credit; `False` when there is none."""
        ...

    def wait(self) -> Awaitable[object]:
        """Resolves once more credit may have been granted."""
        ...

    def item(self, item: object) -> bool:
        """Sends one item; `False` when it could not be sent (the stream has ended with an error)."""
        ...

    def end(self) -> None:
        """Ends the stream: the generator is exhausted."""
        ...

    def fail(self, exc: BaseException) -> None:
        """Ends the stream with the exception the generator raised."""
        ...


async def drive(agen: AsyncGenerator[object, None], sink: Sink) -> None:
    """Pulls `agen` one item per unit of credit into `sink` until it ends, fails or is cancelled."""
    try:
        while True:
            while not sink.take():
                await sink.wait()
            try:
                item = await agen.__anext__()
            except StopAsyncIteration:
                sink.end()
                return
            if not sink.item(item):
                return
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        # `SystemExit` and `KeyboardInterrupt` too: they end this stream, not the loop thread.
        sink.fail(exc)
    finally:
        await agen.aclose()
