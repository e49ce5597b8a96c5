"""Generator handlers whose items are streamed to Rust."""

import asyncio
import pathlib
import time


def count(msg):
    for i in range(msg["n"]):
        yield {"index": i, "at": time.monotonic()}


async def count_async(msg):
    for i in range(msg["n"]):
        if i % 1000 == 0:
            await asyncio.sleep(0)
        yield {"index": i, "at": time.monotonic()}


def failing(msg):
    for i in range(msg["n"]):
        if i == msg["fail_at"]:
            raise ValueError(f"boom at {i}")
        yield {"index": i, "at": 0.0}


async def failing_async(msg):
    for i in range(msg["n"]):
        if i == msg["fail_at"]:
            raise ValueError(f"boom at {i}")
        yield {"index": i, "at": 0.0}


def endless(msg):
    """Runs until closed; its finally block leaves a mark the test can see."""
    try:
        i = 0
        while True:
            yield {"index": i, "at": 0.0}
            i += 1
    finally:
        pathlib.Path(msg["marker"]).write_text("closed")


async def endless_async(msg):
    try:
        i = 0
        while True:
            yield {"index": i, "at": 0.0}
            await asyncio.sleep(0)
            i += 1
    finally:
        pathlib.Path(msg["marker"]).write_text("closed")


def bad_item(msg):
    yield {"index": 0, "at": 0.0}
    yield {"index": "not a number", "at": 0.0}
    yield {"index": 2, "at": 0.0}
