"""Handlers the runtime's integration tests call in real child processes."""

import asyncio
import os
import random
import sys
import time


def echo(msg):
    return msg


async def echo_async(msg):
    await asyncio.sleep(0)
    return msg


async def in_a_task(msg):
    """What an `async def` handler sees of asyncio, answering without an await (`now`) or after
    one (`await`): its own task, the same one throughout, and `asyncio.timeout`, which needs it."""
    task = asyncio.current_task()
    async with asyncio.timeout(5):
        if msg["text"] == "await":
            await asyncio.sleep(0)
    same = asyncio.current_task() is task
    return {"text": f"{msg['text']}: task={task is not None and not task.done()} same={same}"}


def fail(msg):
    raise ValueError(f"bad value: {msg['text']}")


async def fail_async(msg):
    await asyncio.sleep(0)
    raise KeyError(msg["text"])


async def jitter(msg):
    """Sleeps a random few milliseconds, then answers with values derived from the request."""
    await asyncio.sleep(random.uniform(0.001, 0.005))
    return {"id": msg["id"], "doubled": msg["id"] * 2, "tag": f"t{msg['id']}"}


_running = 0
_peak = 0


def slow_or_fast(msg):
    """Slow calls sleep (releasing the GIL); fast ones answer at once. Reports concurrency."""
    global _running, _peak
    _running += 1
    _peak = max(_peak, _running)
    try:
        if msg["slow"]:
            time.sleep(msg["seconds"])
        return {"id": msg["id"], "peak": _peak}
    finally:
        _running -= 1


def wrong_type(msg):
    return {"id": msg["id"], "doubled": "not a number", "tag": "x"}


def wrong_nested(msg):
    return {"items": [{"score": 1.0}, {"score": 2.0}, {"score": 3.0}, {"score": "high"}]}


def exit_now(msg):
    """Exits the whole child immediately, mid-call."""
    if msg["delay"]:
        time.sleep(msg["delay"])
    os._exit(msg["code"])


async def hang(msg):
    """Never answers on its own; records cancellation so a later call can observe it."""
    if msg["report"]:
        return list(_cancelled)
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        _cancelled.append(msg["id"])
        raise
    return msg


_cancelled: list = []


def chatty(msg):
    """Writes a lot to stdout and stderr; neither may corrupt the protocol or block the child."""
    for i in range(msg["lines"]):
        print(f"stdout line {i} " + "x" * 100)
        print(f"stderr line {i}", file=sys.stderr)
    return msg["lines"]


def prefix(_msg):
    return {"prefix": sys.prefix, "executable": sys.executable, "version": sys.version.split()[0]}


def environment(_msg):
    return sorted(os.environ.keys())


def big(msg):
    return "y" * msg["size"]


not_callable = 42


def _channel_fd():
    """The child's end of the channel: the Unix socket whose peer is the parent process.

    The child takes its number out of the environment at start, so it is found by its peer.
    """
    import socket
    import struct

    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except (OSError, ValueError):
            continue
        try:
            if sock.family != socket.AF_UNIX:
                continue
            cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            if struct.unpack("3i", cred)[0] == os.getppid():
                return int(name)
        except OSError:
            continue
        finally:
            sock.close()
    raise RuntimeError("no channel to the parent among this process's descriptors")


def corrupt(_msg):
    """Writes a frame header announcing 4 GiB straight into the channel."""
    os.write(_channel_fd(), b"\xff\xff\xff\xff")
    time.sleep(5)


def two_arguments(first, second):
    """Cannot be called with the one argument snake passes."""
    return first


def keyword_only(*, msg):
    """Neither can this: the argument must be positional."""
    return msg


def defaults_are_fine(msg, extra=None):
    return msg


def die_or_pid(msg):
    """Exits with `msg["code"]` when it is not negative; otherwise answers with the pid."""
    if msg["code"] >= 0:
        os._exit(msg["code"])
    return os.getpid()


def segfault(_msg):
    """Crashes the whole child with SIGSEGV, as a broken extension would."""
    import ctypes

    ctypes.string_at(0)


def flood(msg):
    """Writes `msg` MiB to stdout and as much to stderr, in 1 KiB lines."""
    line = "x" * 1023 + "\n"
    chunk = line * 1024
    for _ in range(msg):
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
    sys.stdout.flush()
    sys.stderr.flush()
    return msg
