"""The soak benchmark's handler: records every run of a call, then answers or crashes."""

import os

_log_fd = None


def work(msg):
    """Appends the call's id to the run log (one unbuffered write, so a crash loses nothing
    already written), then exits the whole child if told to, else answers with the id."""
    global _log_fd
    if _log_fd is None:
        _log_fd = os.open(msg["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(_log_fd, b"%d\n" % msg["id"])
    if msg["crash"]:
        os._exit(1)
    return msg["id"]
