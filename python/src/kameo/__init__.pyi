"""The original name of snake's runtime module: the same module object as `snake` in a child."""

__all__ = ["CallbackError", "CallbackStream", "Cancelled", "IN_CHILD", "__version__", "callback_handle", "callback_stream"]

from snake import IN_CHILD as IN_CHILD
from snake import CallbackError as CallbackError
from snake import CallbackStream as CallbackStream
from snake import Cancelled as Cancelled
from snake import __version__ as __version__
from snake import callback_handle as callback_handle
from snake import callback_stream as callback_stream
from snake import log_handler as log_handler
