"""`ticks` annotates the items it yields with a type Rust does not declare."""

from collections.abc import Iterator
from typing import TypedDict


class Greeting(TypedDict):
    name: str
    times: int


class Greeted(TypedDict):
    text: str
    length: int


def greet(request: Greeting) -> Greeted:
    return {"text": request["name"], "length": 0}


async def greet_async(request: Greeting) -> Greeted:
    return {"text": request["name"], "length": 0}


def ticks(count: int) -> Iterator[Greeted]:
    yield from ()


async def async_ticks(count):
    yield {"index": 0, "square": 0}


def maybe(request):
    return []
