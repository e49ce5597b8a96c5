"""What a Python user would pick to move large buffers between processes: two
`multiprocessing.shared_memory` blocks viewed as numpy arrays, and a `Pipe` to say when a
buffer is ready. One round trip copies the payload into the first block (parent), from it into
the second (child), and the parent views the second without a copy: the same copies as a
`snake::SharedBytes` echo.

KIND `sum` and `echo` are the array rows: the blocks are viewed as float32 arrays; `sum` has the
child answer `arr.sum()` over the pipe instead of copying, `echo` copies as `bytes` does.

Usage: shm_peer.py SIZES WARMUP ITERS [KIND]  (SIZES comma-separated bytes; KIND `bytes`, the
default, `sum` or `echo`); prints `<size> <p50 ns>`.
"""

import sys
import time
from multiprocessing import Pipe, Process
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory

import numpy as np


def child(conn: Connection, name_in: str, name_out: str, size: int, kind: str) -> None:
    block_in, block_out = SharedMemory(name=name_in), SharedMemory(name=name_out)
    dtype, count = (np.uint8, size) if kind == "bytes" else (np.float32, size // 4)
    src = np.ndarray((count,), dtype=dtype, buffer=block_in.buf)
    dst = np.ndarray((count,), dtype=dtype, buffer=block_out.buf)
    while conn.recv():
        if kind == "sum":
            conn.send(float(src.sum()))
        else:
            dst[:] = src
            conn.send(True)
    del src, dst
    block_in.close()
    block_out.close()


def measure(size: int, warmup: int, iters: int, kind: str) -> int:
    block_in, block_out = SharedMemory(create=True, size=size), SharedMemory(create=True, size=size)
    ours, theirs = Pipe()
    worker = Process(target=child, args=(theirs, block_in.name, block_out.name, size, kind))
    worker.start()
    # As bytes; for the array kinds, float32 elements `i % 251 % 2` (0s and 1s: every partial sum of
    # a float32 `arr.sum()` is exact, so it equals the float64 sum).
    if kind == "bytes":
        payload = (np.arange(size, dtype=np.uint64) % 251).astype(np.uint8)
    else:
        payload = (np.arange(size // 4, dtype=np.uint64) % 251 % 2).astype(np.float32).view(np.uint8)
    expected_sum = float(payload.view(np.float32).sum(dtype=np.float64)) if kind == "sum" else 0.0
    dst = np.ndarray((size,), dtype=np.uint8, buffer=block_in.buf)
    back = np.ndarray((size,), dtype=np.uint8, buffer=block_out.buf)
    samples = []
    view = back[:0]
    try:
        for i in range(warmup + iters):
            start = time.perf_counter_ns()
            dst[:] = payload
            ours.send(True)
            answer = ours.recv()
            view = back[:size]
            took = time.perf_counter_ns() - start
            if kind == "sum" and answer != expected_sum:
                raise SystemExit(f"the peer summed {answer}, expected {expected_sum}")
            if kind != "sum" and view[size - 1] != payload[size - 1]:
                raise SystemExit("the peer echoed other bytes")
            if i >= warmup:
                samples.append(took)
        ours.send(False)
        worker.join(10)
    finally:
        del dst, back, view
        for block in (block_in, block_out):
            block.close()
            block.unlink()
    samples.sort()
    return samples[(len(samples) * 50 + 99) // 100 - 1]


def main() -> None:
    sizes, warmup, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    kind = sys.argv[4] if len(sys.argv) > 4 else "bytes"
    if kind not in ("bytes", "sum", "echo"):
        raise SystemExit(f"unknown kind {kind!r}")
    for size in (int(s) for s in sizes.split(",")):
        print(size, measure(size, warmup, iters, kind), flush=True)


if __name__ == "__main__":
    main()
