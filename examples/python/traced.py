"""The Python side of the `trace_tree` example: logs, calls back into Rust, and answers.

Nothing here knows about tracing: the `logging` records are forwarded to the Rust parent, which
records them inside the span of the request that produced them, and the callback joins the
request's trace on its own.
"""

import logging
from typing import TypedDict

import snake

log = logging.getLogger("traced")


class Greet(TypedDict):
    name: str


class Visits(TypedDict):
    name: str
    visits: int


class Greeting(TypedDict):
    text: str
    visits: int


async def greet(msg: Greet) -> Greeting:
    """Greets `msg["name"]`, asking the Rust side how often they have been here."""
    name = msg["name"]
    log.info("greeting %s", name)
    # Answered by the Rust `CallbackHandler`, in a span that is a child of this call's.
    visits: Visits = await snake.callback_handle(
        {"LookupVisits": {"name": name}}
    )
    if visits["visits"] > 1:
        log.warning("%s has been here %d times before", name, visits["visits"])
    return {"text": f"welcome back, {name}", "visits": visits["visits"]}
