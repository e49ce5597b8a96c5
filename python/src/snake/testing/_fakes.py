"""Fakes for the callbacks a handler makes into Rust, for tests run without a child."""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import AsyncIterable, Callable, Iterator
from typing import Any

import snake

from ._check import Schema, convert

#: The names of `snake.callback_handle` and `snake.callback_stream` among the fakes.
GENERIC = ("callback_handle", "callback_stream")


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _behave(behaviour: object, arg: Any) -> Any:
    """What a behaviour gives for `arg`: raise an exception, call a function, or a fixed value."""
    if isinstance(behaviour, BaseException):
        raise behaviour
    if isinstance(behaviour, type) and issubclass(behaviour, BaseException):
        raise behaviour()
    if callable(behaviour):
        return behaviour(arg)
    return behaviour


class CallbackFakes:
    """What each callback returns or raises in one test (the `snake_callbacks` fixture).

    Assign a behaviour to a callback's name: a value (returned on every call; for a streaming
    callback, an iterable of the items), a function of the argument (plain or `async def`), or an
    exception (instance or class) to raise::

        snake_callbacks.stop_words = ["the", "a"]
        snake_callbacks.lookup = lambda user_id: {"id": user_id, "name": "Ada"}
        snake_callbacks.lookup = snake.CallbackError("no such user")
        snake_callbacks.callback_handle = ...   # snake.callback_handle(msg)
        snake_callbacks.callback_stream = [...]  # snake.callback_stream(msg)

    Both spellings of a callback (`name(arg)` and `await name_async(arg)`) use it. When the
    schema declares the callback, its argument is checked as the child checks it (root
    `callback`) and the fake's reply as Rust's would be (`callback_reply`). `calls` lists
    `(name, arg)` for every call made.
    """

    calls: list[tuple[str, Any]]
    _module: types.ModuleType | None
    _schema: Schema | None
    _hooks: dict[str, Callable[[Any], Any]]

    def __init__(self, module: types.ModuleType | None, schema: Schema | None) -> None:
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_schema", schema)
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "_hooks", {})

    def names(self) -> list[str]:
        """The callbacks that can be faked: the schema's, else the module's functions."""
        schema: Schema | None = self._schema
        if schema is not None and schema.callbacks:
            return [callback["name"] for callback in schema.callbacks]
        module = self._module
        if module is None:
            return []
        return sorted(
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and not name.endswith("_async") and inspect.isfunction(value)
        )

    def __setattr__(self, name: str, behaviour: object) -> None:
        self.set(name, behaviour)

    def set(self, name: str, behaviour: object) -> None:
        """`fakes.name = behaviour`, for names that are not identifiers."""
        if name in GENERIC:
            self._hooks[name] = self._generic(name, behaviour)
            return
        if name not in self.names():
            known = ", ".join(self.names()) or "none"
            raise AttributeError(
                f"there is no callback {name!r} to fake (callbacks: {known}; "
                f"or callback_handle / callback_stream for snake.callback_handle / snake.callback_stream)"
            )
        module = self._module
        assert module is not None
        module._FAKES[name] = self._named(name, behaviour)

    def _named(self, name: str, behaviour: object) -> Callable[[Any], Any]:
        schema: Schema | None = self._schema
        declared = schema.callback(name) if schema is not None else None

        def fake(arg: Any) -> Any:
            if declared is not None:
                arg = convert(arg, declared["arg"], schema, "callback")
            self.calls.append((name, arg))
            result = _behave(behaviour, arg)
            if declared is None:
                return result
            if inspect.isawaitable(result):
                return _checked_later(result, declared["reply"], schema)
            if declared["streaming"]:
                if isinstance(result, AsyncIterable):
                    return result
                return [convert(item, declared["reply"], schema, "callback_reply") for item in result]
            convert(result, declared["reply"], schema, "callback_reply")
            return result

        return fake

    def _generic(self, name: str, behaviour: object) -> Callable[[Any], Any]:
        def fake(msg: Any) -> Any:
            self.calls.append((name, msg))
            if name == "callback_stream":
                return _Stream(_behave(behaviour, msg))
            if _on_loop():
                return _value_later(behaviour, msg)
            result = _behave(behaviour, msg)
            if inspect.isawaitable(result):
                raise TypeError("the fake of callback_handle is async; a plain handler needs a plain function")
            return result

        return fake


async def _checked_later(result: Any, reply: Any, schema: Schema | None) -> Any:
    value = await result
    convert(value, reply, schema, "callback_reply")
    return value


async def _value_later(behaviour: object, msg: Any) -> Any:
    result = _behave(behaviour, msg)
    if inspect.isawaitable(result):
        return await result
    return result


class _Stream:
    """A fake `snake.CallbackStream`: iterable with `for` and `async for`."""

    def __init__(self, items: Any) -> None:
        self._items = items
        self._iter: Iterator[Any] | None = None

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        if self._iter is None:
            self._iter = iter(self._items)
        return next(self._iter)

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> Any:
        if isinstance(self._items, AsyncIterable):
            if self._iter is None:
                self._iter = self._items.__aiter__()  # type: ignore[assignment]
            try:
                return await self._iter.__anext__()  # type: ignore[union-attr]
            except StopAsyncIteration:
                raise
        try:
            return self.__next__()
        except StopIteration:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self._iter = iter(())

    async def aclose(self) -> None:
        self.close()


def install(fakes: CallbackFakes) -> Callable[[], None]:
    """Routes `snake.callback_handle` / `callback_stream` to `fakes`; returns the undo."""
    hooks: dict[str, Callable[[Any], Any]] = fakes._hooks
    previous = getattr(snake, "_test_hooks", None)
    setattr(snake, "_test_hooks", hooks)

    def undo() -> None:
        setattr(snake, "_test_hooks", previous)

    return undo
