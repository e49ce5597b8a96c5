"""The module behind the typed pool in `tests/integration/pools.rs`."""

import os

_count = 0


def whoami(_request):
    return os.getpid()


def die_once(path):
    """Dies the first time (a marker file remembers it across processes), then answers."""
    if not os.path.exists(path):
        open(path, "w").close()
        os._exit(3)
    return os.getpid()


def count(_request):
    global _count
    _count += 1
    return _count


_cancelled: list = []


async def hang(call_id):
    """Never answers on its own; records its cancellation for `cancelled`."""
    import asyncio

    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        _cancelled.append(call_id)
        raise
    return call_id


def cancelled(_request):
    return list(_cancelled)


def slow(ms):
    """Answers with the worker's pid after `ms` milliseconds."""
    import time

    time.sleep(ms / 1000)
    return os.getpid()
