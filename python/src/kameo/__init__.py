"""The original name of snake's runtime module (see `snake`)."""

from snake import (
    IN_CHILD,
    CallbackError,
    CallbackStream,
    Cancelled,
    __version__,
    callback_handle,
    callback_stream,
    log_handler,
)

__all__ = ["CallbackError", "CallbackStream", "Cancelled", "IN_CHILD", "__version__", "callback_handle", "callback_stream"]
