"""Handlers for the pool tests: each answers with the pid of the worker that ran it."""

import ctypes
import os
import time

if os.environ.get("SNAKE_POOL_BREAK") and os.path.exists(os.environ["SNAKE_POOL_BREAK"]):
    raise ImportError("this module is broken on purpose")

_held: list[bytearray] = []
_count = 0


def work(job):
    """Runs `job["op"]` with `job["n"]`; returns the pid and a value."""
    global _count
    op, n = job["op"], job["n"]
    if op == "exit":
        os._exit(n)
    elif op == "exit_once":
        # Dies the first time, then answers: a marker file remembers across processes.
        if not os.path.exists(job["path"]):
            open(job["path"], "w").close()
            time.sleep(0.05)
            os._exit(3)
    elif op == "spin":
        end = time.perf_counter() + n / 1000
        total = 0
        while time.perf_counter() < end:
            total += 1
    elif op == "sleep":
        time.sleep(n / 1000)
    elif op == "alloc":
        _held.append(bytearray(n << 20))
        time.sleep(0.01)
    elif op == "gil":
        # `PyDLL` calls keep the GIL: a C extension that never lets go.
        ctypes.PyDLL(None).sleep(n)
    elif op == "count":
        _count += 1
        return {"pid": os.getpid(), "value": _count}
    return {"pid": os.getpid(), "value": n}
