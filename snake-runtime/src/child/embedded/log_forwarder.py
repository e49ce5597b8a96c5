"""The `logging` handler that forwards the child's records and warnings to the parent
(`snake-runtime/src/child/logs.rs`).

Kept in Python: it is `logging`'s own protocol (`emit`, `handleError`), and extracting the
record's fields here costs no more than doing it through pyo3.
"""

from __future__ import annotations

import logging
import re

# Not `typing.TYPE_CHECKING`: `typing` is not imported at runtime, it costs a child's start a few
# milliseconds when nothing else needs it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class Forward(Protocol):
        """The Rust `Forwarder`: builds a log frame from the record's fields and sends it."""

        def __call__(
            self,
            level: int,
            logger: str,
            message: str,
            file: str | None,
            line: int,
            exception: str | None,
            warning: bool,
            /,
        ) -> None: ...


# warnings.formatwarning: "{filename}:{lineno}: {category}: {message}\n[  {source line}\n]"
_WARNING = re.compile(r"(.+?):(\d+): ([A-Za-z_][\w.]*: .*)", re.DOTALL)
_FORMATTER = logging.Formatter()


class SnakeHandler(logging.Handler):
    """Forwards records to the snake parent process, where they become `tracing` events."""

    def __init__(self, level: int, forward: Forward) -> None:
        super().__init__(level)
        self._forward = forward

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            pathname, lineno = record.pathname, record.lineno
            warning = record.name == "py.warnings"
            if warning:
                # Point at the code that warned, not at the logging call inside `warnings`.
                found = _WARNING.match(message)
                if found:
                    pathname, lineno, message = found.group(1), int(found.group(2)), found.group(3)
                message = message.rstrip()
            exception = None
            if record.exc_info and record.exc_info[0] is not None:
                # Not cached in record.exc_text: a user's formatter may format it differently.
                exception = _FORMATTER.formatException(record.exc_info)
            elif record.exc_text:
                exception = record.exc_text
            if record.stack_info:
                stack = _FORMATTER.formatStack(record.stack_info)
                exception = f"{exception}\n{stack}" if exception else stack
            self._forward(record.levelno, record.name, message, pathname, lineno, exception, warning)
        except RecursionError:
            # As the standard handlers do: reporting it would recurse again.
            raise
        except Exception:
            self.handleError(record)
