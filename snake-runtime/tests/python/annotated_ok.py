"""Handlers annotated with the types `tests/integration/annotations.rs` declares, named as the
generated stubs name them (defined here rather than imported from a generated `snake_types`)."""

from collections.abc import AsyncIterator, Iterator
from typing import Optional, TypedDict


class Greeting(TypedDict):
    name: str
    times: int


class Greeted(TypedDict):
    text: str
    length: int


class Tick(TypedDict):
    index: int
    square: int


def greet(request: Greeting) -> Greeted:
    return {"text": "hello " + request["name"], "length": request["times"]}


async def greet_async(request: Greeting) -> Greeted:
    return {"text": "hi " + request["name"], "length": request["times"]}


def ticks(count: int) -> Iterator[Tick]:
    for i in range(count):
        yield {"index": i, "square": i * i}


async def async_ticks(count: int) -> AsyncIterator[Tick]:
    for i in range(count):
        yield {"index": i, "square": i * i}


def maybe(request: Optional[Greeting]) -> "list[Tick]":
    return [] if request is None else [{"index": request["times"], "square": 0}]
