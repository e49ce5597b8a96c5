"""Handlers the start-up benchmark (`benches/startup.rs`) spawns children for.

The module itself imports nothing, so a child's start measures snake and the interpreter, not
the user's imports.
"""


def plain(msg: object) -> object:
    """Typed `object` (which says nothing): the low-level builder's child (no annotation check, no asyncio loop)."""
    return msg


def echo(text: str, /) -> str:
    """Annotated, checked against the declaration at start."""
    return text


async def echo_async(text: str, /) -> str:
    """An `async def`: the child starts its asyncio loop before it is ready."""
    return text
