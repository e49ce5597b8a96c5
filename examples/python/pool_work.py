"""CPU-bound work for the pool example: pure Python, so one process runs one call at a time."""

import os
from typing import TypedDict


class Burn(TypedDict):
    n: int


class Burnt(TypedDict):
    pid: int
    total: int


def burn(msg: Burn) -> Burnt:
    """Sums the squares below `n` (about 1 ms per 15,000 on these machines)."""
    total = 0
    for i in range(msg["n"]):
        total += i * i
    return {"pid": os.getpid(), "total": total}
