"""The runtime module of a snake child process (see `__init__.pyi` for the API).

Inside a child, snake registers the real module under this name before the handler module is
imported, and that module shadows this file. Imported anywhere else (a unit test, a REPL), this
fallback keeps handler modules importable; calling back into Rust raises `RuntimeError`.
"""

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["CallbackError", "CallbackStream", "Cancelled", "IN_CHILD", "__version__", "callback_handle", "callback_stream"]

__version__ = "0.1.0"
IN_CHILD = False
log_handler: logging.Handler = logging.NullHandler()

_OUTSIDE = (
    "snake callbacks only work inside a snake child process; in a test, fake them with the "
    "`snake_callbacks` fixture of snake.testing (`snake_callbacks.callback_handle = ...`)"
)

_test_hooks: dict[str, Callable[[Any], Any]] = {}
"""Fakes of `callback_handle` and `callback_stream`, set by the `snake_callbacks` fixture."""


class CallbackError(Exception):
    """A callback into Rust failed."""


class Cancelled(BaseException):
    """Raised inside a plain handler whose call was cancelled."""


class CallbackStream:
    """The replies of a streaming callback (only produced inside a child)."""

    def __init__(self) -> None:
        raise RuntimeError(_OUTSIDE)


def callback_handle(msg: Any) -> Any:
    """Sends `msg` to the Rust callback handler (inside a child only, or faked in a test)."""
    fake = _test_hooks.get("callback_handle")
    if fake is None:
        raise RuntimeError(_OUTSIDE)
    return fake(msg)


def callback_stream(msg: Any) -> CallbackStream:
    """Asks the Rust callback handler for a stream of replies (inside a child only, or faked)."""
    fake = _test_hooks.get("callback_stream")
    if fake is None:
        raise RuntimeError(_OUTSIDE)
    stream: CallbackStream = fake(msg)
    return stream
