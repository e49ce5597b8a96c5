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
