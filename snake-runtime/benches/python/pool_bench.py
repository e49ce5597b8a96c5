"""Handlers of the pool benchmark (`benches/pool.rs`), and its Python peer.

Run as a script, it measures `concurrent.futures.ProcessPoolExecutor` on the same CPU-bound work:
`python3 pool_bench.py WORKERS CALLS N` prints the calls per second.
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_crash_if = os.environ.get("SNAKE_BENCH_CRASH_IF")
if _crash_if and os.path.exists(_crash_if):
    # A worker whose code broke under it: it dies as it starts, so the pool crash-loops.
    os._exit(1)


def burn(msg: dict[str, int]) -> int:
    """Pure Python, so one process runs one call at a time: sums the squares below `n`."""
    total = 0
    for i in range(msg["n"]):
        total += i * i
    return total


def echo(msg: dict[str, Any]) -> dict[str, Any]:
    return msg


def _peer(workers: int, calls: int, n: int) -> float:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(burn, [{"n": n}] * workers))  # start every worker first
        started = time.perf_counter()
        list(pool.map(burn, [{"n": n}] * calls))
        return calls / (time.perf_counter() - started)


if __name__ == "__main__":
    workers, calls, n = (int(arg) for arg in sys.argv[1:4])
    print(f"{_peer(workers, calls, n):.1f}")
