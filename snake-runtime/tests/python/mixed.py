"""A module with several functions of every kind, called through one typed actor."""

import asyncio
import time

import snake_callbacks


def slow_sync(msg):
    time.sleep(msg["seconds"])
    return {"id": msg["id"], "peak": 0}


async def fast_async(msg):
    await asyncio.sleep(0)
    return {"id": msg["id"], "peak": 0}


def ticks(msg):
    for i in range(msg["n"]):
        yield {"index": i, "at": 0.0}


async def double_async(msg):
    return await snake_callbacks.double_async(msg["n"])


def double_sync(msg):
    return snake_callbacks.double(msg["n"])


def bump(msg):
    return snake_callbacks.bump(msg["n"])


async def wrong_spelling(msg):
    """Uses the blocking spelling inside an async handler: refused, not a deadlock."""
    return snake_callbacks.double(msg["n"])
