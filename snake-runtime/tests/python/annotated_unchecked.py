"""Handlers the annotation check cannot decide, all accepted: no annotation, `Any`, a `TypeVar`,
and a string that does not parse."""

from typing import Any, TypeVar

T = TypeVar("T")


def greet(request):
    return {"text": "hello " + request["name"], "length": request["times"]}


async def greet_async(request: Any) -> Any:
    return {"text": "hi " + request["name"], "length": request["times"]}


def ticks(count: T) -> "Iterator[":  # type: ignore[name-defined]  # noqa: F821
    for i in range(count):  # type: ignore[call-overload]
        yield {"index": i, "square": i * i}


async def async_ticks(count: "int") -> Any:
    yield {"index": 0, "square": 0}


def maybe(request: T) -> T:
    return []  # type: ignore[return-value]
