"""String annotations (`from __future__ import annotations`), parsed and never evaluated: the
names come from `snake_types`, which is imported only for type checkers and does not exist here.
`greet_async` annotates its reply with the request's type."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import snake_types
    from snake_types import Greeted, Greeting, Tick


def greet(request: snake_types.Greeting) -> Greeted:
    return {"text": request["name"], "length": 0}


async def greet_async(request: Greeting) -> snake_types.Greeting:
    return request


def ticks(count: int) -> Iterator[Tick]:
    yield from ()


async def async_ticks(count: int) -> AsyncIterator[Tick]:
    yield {"index": 0, "square": 0}


def maybe(request: Greeting | None) -> list[Tick]:
    return []
