"""The Python side of the `remote` example: the functions `Worker` declares in Rust.

The workers run on the hosting node; the caller reaches them over the network. `mypy --strict`
checks this module against the generated `snake_actors.Worker` protocol (`check_remote_worker.py`).
"""

import asyncio
from collections.abc import Iterator

import snake_callbacks
from snake_types import Add, Identity

_released = 0


def shout(text: str, /) -> str:
    """The text, shouted."""
    return text.upper() + "!"


async def add(request: Add, /) -> int:
    """The sum of two numbers, from an `async def`."""
    return request["a"] + request["b"]


def count_to(n: int, /) -> Iterator[int]:
    """Counts from 1 to `n`, one item at a time."""
    global _released
    try:
        yield from range(1, n + 1)
    finally:
        _released += 1


def released(unused: int, /) -> int:
    """How many `count_to` generators this worker has closed so far."""
    return _released


async def sleep(ms: int, /) -> int:
    """Sleeps `ms` milliseconds, then returns them."""
    await asyncio.sleep(ms / 1000)
    return ms


def whoami(tag: str, /) -> Identity:
    """Asks the hosting node who it is, through a Rust callback."""
    return snake_callbacks.host_identity(tag)
