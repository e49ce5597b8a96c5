"""`greet` annotates its request with a type Rust does not declare."""

from collections.abc import AsyncIterator, Iterator
from typing import Any, TypedDict


class Greeted(TypedDict):
    text: str
    length: int


class Tokenize(TypedDict):
    text: str


def greet(request: Tokenize) -> Greeted:
    return {"text": request["text"], "length": 0}


async def greet_async(request: Any) -> Any:
    return {"text": "", "length": 0}


def ticks(count: int) -> Iterator[Any]:
    yield from ()


async def async_ticks(count):
    yield {"index": 0, "square": 0}


def maybe(request):
    return []
