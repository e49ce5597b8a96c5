"""The runtime module of a snake child process.

A snake child registers this module (also under the name `kameo`) before it imports the handler
module, so handlers can call back into the Rust service. Outside a child the package imports,
but its functions raise `RuntimeError`.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, Final, final

__all__ = ["CallbackError", "CallbackStream", "Cancelled", "IN_CHILD", "__version__", "callback_handle", "callback_stream"]

__version__: Final[str]
IN_CHILD: Final[bool]
log_handler: logging.Handler
"""The handler that forwards `logging` records to the parent; re-attach it after reconfiguring."""

class CallbackError(Exception):
    """A callback into Rust failed.

    Its message is the Rust handler's error message, or says that there is no handler, that the
    call which made the callback was cancelled, or that the argument did not convert.
    """

class Cancelled(BaseException):
    """Raised inside a plain (sync) handler whose call was cancelled: its caller went away or its
    deadline passed.

    Like `asyncio.CancelledError`, it derives from `BaseException`, so `except Exception` lets it
    through. A handler that catches it should re-raise it soon: a worker still busy with a
    cancelled call a second later is given up on and replaced.
    """

def callback_handle(msg: Any) -> Any:
    """Sends `msg` to the Rust callback handler and returns its reply.

    In a plain handler it blocks until the reply arrives (with the GIL released); inside an
    `async def` handler it returns an awaitable: `reply = await callback_handle(msg)`.
    """

def callback_stream(msg: Any) -> CallbackStream:
    """Asks the Rust callback handler for a stream of replies.

    Consume it with `for` in a plain handler or `async for` in an `async def` handler; closing it
    (or dropping it unfinished) stops the Rust stream.
    """

@final
class CallbackStream(Iterator[Any], AsyncIterator[Any]):
    """The replies of a streaming callback, as they arrive."""

    def __iter__(self) -> CallbackStream: ...
    def __next__(self) -> Any: ...
    def __aiter__(self) -> CallbackStream: ...
    def __anext__(self) -> Awaitable[Any]: ...
    def close(self) -> None:
        """Stops consuming; the Rust side drops the stream."""

    def aclose(self) -> Awaitable[None]:
        """`close` for `async` code."""
