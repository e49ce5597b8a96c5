"""The module behind the `#[snake::actor]` declaration in `tests/integration/macros.rs`."""

import asyncio

import snake_callbacks


def greet(request):
    text = ", ".join(["hello " + request["name"]] * request["times"])
    return {"text": text, "length": len(text)}


async def greet_async(request):
    await asyncio.sleep(0)
    return {"text": "hi " + request["name"], "length": request["times"]}


def ticks(count):
    for i in range(count):
        yield {"index": i, "square": i * i}


async def async_ticks(count):
    for i in range(count):
        await asyncio.sleep(0)
        yield {"index": i, "square": i * i}


def scale_sync(n):
    """The blocking spelling of a free-function callback."""
    return snake_callbacks.macro_scale(n)


async def scale_async(n):
    """The async spelling of the same callback."""
    return await snake_callbacks.macro_scale_async(n)


async def tally(n):
    """A `&self` callback whose state the parent provided."""
    return await snake_callbacks.macro_tally_async(n)


def nothing(_request):
    return None
