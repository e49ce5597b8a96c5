"""Handlers, warmups and teardowns for the health tests (`tests/integration/health.rs`).

Every handler takes `{"op": str, "seconds": int}` and answers a string. Teardowns write what they
saw to the file named by the `SNAKE_TEST_MARKER` environment variable; `warm_slow` writes its pid
there before it sleeps.
"""

import asyncio
import ctypes
import os
import threading
import time

_warmed = 0
_warmed_on = ""
_done = 0


def _thread():
    """The OS name of the running thread, cut to 15 bytes (threads the child starts are `Dummy-N`
    to Python), or `main`."""
    if threading.get_native_id() == os.getpid():
        return "main"
    with open(f"/proc/self/task/{threading.get_native_id()}/comm") as comm:
        return comm.read().strip()


def _mark(text):
    with open(os.environ["SNAKE_TEST_MARKER"], "w") as marker:
        marker.write(text)


def handle(msg):
    """`warmed`: how often warmup ran and where; `sleep`: sleeps, releasing the GIL;
    `hold_gil`: sleeps in C *holding* the GIL (`PyDLL` calls do not release it)."""
    global _done
    op = msg["op"]
    if op == "sleep":
        time.sleep(msg["seconds"])
    elif op == "hold_gil":
        ctypes.PyDLL(None).sleep(msg["seconds"])
    _done += 1
    return f"warmed {_warmed} on {_warmed_on}"


async def handle_async(msg):
    await asyncio.sleep(0)
    return f"warmed {_warmed} on {_warmed_on}"


def warm():
    global _warmed, _warmed_on
    _warmed += 1
    _warmed_on = _thread()


async def warm_async():
    global _warmed, _warmed_on
    await asyncio.sleep(0.01)
    _warmed += 1
    _warmed_on = _thread()


def warm_raises():
    raise FileNotFoundError("no model file at /models/big.bin")


def warm_slow():
    _mark(str(os.getpid()))
    time.sleep(60)


not_callable = 42


def teardown():
    _mark(f"done {_done} on {_thread()}")


async def teardown_async():
    await asyncio.sleep(0.01)
    _mark(f"async done {_done} on {_thread()}")


def teardown_raises():
    _mark(f"raising after {_done}")
    raise RuntimeError("could not flush the cache")
