"""Handlers that misbehave on purpose, for the child's fault tests (`tests/integration/faults_child.rs`).

Every handler takes `{"kind": str, "arg": str}`; `kind` picks the fault and `arg` its parameter.
"""

import asyncio
import os
import sys
import threading
import time


def _fault(msg):
    """Raises the fault `msg` names, or returns its answer for `ok`."""
    kind, arg = msg["kind"], msg["arg"]
    if kind == "exit":
        sys.exit(int(arg))
    if kind == "interrupt":
        raise KeyboardInterrupt(arg)
    if kind == "big":
        raise ValueError("x" * int(arg))
    if kind == "spin":
        while True:
            pass
    if kind == "big-utf8":
        # Two-byte characters: a cut must not split one.
        raise ValueError("é" * int(arg))
    return f"ok:{arg}"


def raise_sync(msg):
    return _fault(msg)


async def raise_async(msg):
    await asyncio.sleep(0)
    return _fault(msg)


async def raise_agen(msg):
    yield "first"
    await asyncio.sleep(0)
    yield _fault(msg)


def raise_gen(msg):
    yield "first"
    yield _fault(msg)


_waiting: list = []
_waiting_lock = threading.Lock()


def _pair(timeout):
    """Returns once another `_pair` call runs at the same time; raises after `timeout` alone."""
    with _waiting_lock:
        if _waiting:
            _waiting.pop().set()
            return "paired"
        partner = threading.Event()
        _waiting.append(partner)
    if partner.wait(timeout):
        return "paired"
    with _waiting_lock:
        if partner in _waiting:
            _waiting.remove(partner)
            raise TimeoutError("no second call ran at the same time")
    return "paired"


_spun: list = []
_interrupted: list = []


def busy(msg):
    """`spin` burns the CPU in pure Python until interrupted, `sleep` blocks in C for `arg`
    seconds, `pair` returns only once a second `pair` call runs at the same time (two workers),
    `pid` answers with the child's pid, `interrupted` with how many `spin` calls started and what
    they were interrupted with, `ok` answers at once."""
    kind, arg = msg["kind"], msg["arg"]
    if kind == "spin":
        try:
            _spun.append(arg)
            while True:
                pass
        except BaseException as exc:
            _interrupted.append(f"{type(exc).__module__}.{type(exc).__qualname__}")
            raise
    if kind == "interrupted":
        return f"{len(_spun)}:{','.join(_interrupted)}"
    if kind == "sleep":
        time.sleep(float(arg))
        return "slept"
    if kind == "pair":
        return _pair(float(arg))
    if kind == "pid":
        return str(os.getpid())
    return f"ok:{arg}"


class _StubbornTask(asyncio.Task):
    """A task whose `cancel()` raises once it is marked stubborn."""

    stubborn = False

    def cancel(self, msg=None):
        if self.stubborn:
            raise RuntimeError("this task refuses to be cancelled")
        return super().cancel(msg)


def _stubborn_factory(loop, coro, context=None):
    return _StubbornTask(coro, loop=loop, context=context)


async def loop_faults(msg):
    """`install` makes later tasks `_StubbornTask`s, `stubborn` waits forever in a task whose
    `cancel()` raises, `block` blocks the whole loop for `arg` seconds, `stop` stops the loop
    under the child, `ok` answers."""
    kind, arg = msg["kind"], msg["arg"]
    if kind == "install":
        asyncio.get_running_loop().set_task_factory(_stubborn_factory)
        return "installed"
    if kind == "stubborn":
        task = asyncio.current_task()
        assert isinstance(task, _StubbornTask)
        task.stubborn = True
        await asyncio.sleep(3600)
    if kind == "block":
        time.sleep(float(arg))
        return "unblocked"
    if kind == "stop":
        # Still running when the loop stops: a handler that returned at once would be answered
        # within its first step, before the loop ends.
        asyncio.get_running_loop().stop()
        await asyncio.sleep(0)
        return "stopped"
    return f"ok:{arg}"

