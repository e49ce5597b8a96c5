"""A module that imports neither `logging` nor anything that does: the child attaches its log
handler only when a handler first imports it (`tests/integration/logs.rs`)."""

import os
import sys
import warnings


def run(msg):
    op = msg["op"]
    captured = []
    if op == "loaded":
        captured = [name for name in ("logging", "snake_handler") if name in sys.modules]
    elif op == "warn":
        warnings.warn(f"early {msg['n']}")
    elif op == "log":
        import snake

        # Asking for the handler imports `logging`, which attaches it.
        handler = snake.log_handler
        import logging

        logging.getLogger("late").info("late line %d", msg["n"])
        captured = [type(handler).__name__, logging.getLevelName(logging.getLogger().level)]
    elif op == "uncapture":
        import logging

        # What `logging` puts back is Python's own `showwarning`, as without snake.
        logging.captureWarnings(False)
        captured = [str(warnings.showwarning is warnings._showwarning_orig)]
        logging.captureWarnings(True)
    return {"pid": os.getpid(), "n": msg["n"], "captured": captured}
