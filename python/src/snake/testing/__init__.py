"""Test Python handlers without Rust: `check` values, `run` handlers, fake callbacks.

Installed with the `snake-runtime` package, this is also a pytest plugin (entry point
`pytest11`), which provides the `snake_callbacks` fixture. The shapes come from the
`snake_schema.json` that `<binary> --snake-stubs write DIR` writes next to the stubs.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import typing
from collections.abc import Callable
from typing import Any

from ._check import SCHEMA_FILE, ConversionError, Schema, convert, find_schema, load_schema, schema_type
from ._fakes import CallbackFakes

__all__ = ["SCHEMA_FILE", "CallbackFakes", "ConversionError", "Schema", "check", "load_schema", "run"]

SchemaArg = Schema | str | os.PathLike[str] | None


def _schema(schema: SchemaArg, *modules: str | None) -> Schema | None:
    if isinstance(schema, Schema):
        return schema
    if schema is not None:
        return load_schema(schema)
    return find_schema(*modules)


def check(value: object, type_: object, *, schema: SchemaArg = None, root: str = "value") -> Any:
    """Checks `value` against `type_` as the child checks a reply, and returns it as Rust would
    hand it back to Python (tuples for tuples, plain ints for numpy ints, ...).

    `type_` is a class or alias of the generated `snake_types` (looked up by name in the schema),
    a type name as a str, or a plain annotation (`int`, `list[str]`, `X | None`). The schema is
    `schema` (a `Schema`, a `snake_schema.json` or its directory) or the one next to the module
    that defines `type_`, else next to `snake_types`. Raises `ConversionError` (an
    `AssertionError`) with the child's message: `value.items[3].score: expected float, got str`.
    """
    found = _schema(schema, getattr(type_, "__module__", None))
    ty = schema_type(type_, found)
    if ty is None:
        raise TypeError(f"{type_!r} is not a type snake can check (is snake_schema.json next to the stubs?)")
    return convert(value, ty, found, root)


_MODES = {
    "Sync": "a plain function",
    "Async": "an `async def` function",
    "Generator": "a generator function",
    "AsyncGenerator": "an async generator function",
}


def _mode(handler: Callable[..., Any]) -> str:
    if inspect.isasyncgenfunction(handler):
        return "AsyncGenerator"
    if inspect.iscoroutinefunction(handler):
        return "Async"
    if inspect.isgeneratorfunction(handler):
        return "Generator"
    return "Sync"


def _annotated(handler: Callable[..., Any], schema: Schema | None) -> tuple[Any, Any]:
    """The request and reply (item) types from the handler's annotations, where it has them."""
    try:
        hints = typing.get_type_hints(handler)
    except Exception:
        return None, None
    parameters = [p for p in inspect.signature(handler).parameters.values() if p.name in hints]
    request = schema_type(hints[parameters[0].name], schema) if parameters else None
    reply_hint = hints.get("return")
    if reply_hint is not None and _mode(handler) in ("Generator", "AsyncGenerator"):
        args = typing.get_args(reply_hint)
        reply_hint = args[0] if args else None
    reply = schema_type(reply_hint, schema) if reply_hint is not None else None
    return request, reply


async def _collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


def run(handler: Callable[..., Any], request: object, *, schema: SchemaArg = None) -> Any:
    """Calls `handler(request)` the way the child does, and returns its reply.

    The request and reply types are the handler's declaration in the schema (found by module
    and function name), else its annotations. The request is checked and converted as the child
    would hand it over (`root` `request`); the handler must be of the declared kind (plain,
    `async def`, generator, async generator); `async` code runs on a fresh event loop; a
    generator's items are collected into a list; the reply (each item) is checked as the child
    checks it (`reply...: expected float, got str`). Returns the reply as the handler made it.
    """
    module = getattr(handler, "__module__", None)
    found = _schema(schema, module)
    declared = found.method(module, handler.__name__) if found is not None and module else None
    mode = _mode(handler)
    if declared is not None:
        request_ty, reply_ty = declared["request"], declared["reply"]
        if declared["mode"] != mode:
            raise TypeError(
                f"{module}.{handler.__name__} is {_MODES[mode]}, but Rust declares it as {_MODES[declared['mode']]}"
            )
    else:
        request_ty, reply_ty = _annotated(handler, found)
    if request_ty is not None:
        request = convert(request, request_ty, found, "request")
    if mode == "AsyncGenerator":
        reply: Any = asyncio.run(_collect(handler(request)))
    elif mode == "Async":
        reply = asyncio.run(handler(request))
    elif mode == "Generator":
        reply = list(handler(request))
    else:
        reply = handler(request)
    if reply_ty is not None:
        if mode in ("Generator", "AsyncGenerator"):
            for item in reply:
                convert(item, reply_ty, found, "reply")
        else:
            convert(reply, reply_ty, found, "reply")
    return reply
