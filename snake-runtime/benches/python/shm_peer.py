"""What a Python user would pick to move large buffers between processes: two
`multiprocessing.shared_memory` blocks viewed as numpy arrays, and a `Pipe` to say when a
buffer is ready. One round trip copies the payload into the first block (parent), from it into
the second (child), and the parent views the second without a copy: the same copies as a
`snake::SharedBytes` echo.

Usage: shm_peer.py SIZES WARMUP ITERS  (SIZES comma-separated bytes); prints `<size> <p50 ns>`.
"""

import sys
import time
from multiprocessing import Pipe, Process
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory

import numpy as np


def child(conn: Connection, name_in: str, name_out: str, size: int) -> None:
    block_in, block_out = SharedMemory(name=name_in), SharedMemory(name=name_out)
    src = np.ndarray((size,), dtype=np.uint8, buffer=block_in.buf)
    dst = np.ndarray((size,), dtype=np.uint8, buffer=block_out.buf)
    while conn.recv():
        dst[:] = src
        conn.send(True)
    del src, dst
    block_in.close()
    block_out.close()


def measure(size: int, warmup: int, iters: int) -> int:
    block_in, block_out = SharedMemory(create=True, size=size), SharedMemory(create=True, size=size)
    ours, theirs = Pipe()
    worker = Process(target=child, args=(theirs, block_in.name, block_out.name, size))
    worker.start()
    payload = (np.arange(size, dtype=np.uint64) % 251).astype(np.uint8)
    dst = np.ndarray((size,), dtype=np.uint8, buffer=block_in.buf)
    back = np.ndarray((size,), dtype=np.uint8, buffer=block_out.buf)
    samples = []
    view = back[:0]
    try:
        for i in range(warmup + iters):
            start = time.perf_counter_ns()
            dst[:] = payload
            ours.send(True)
            ours.recv()
            view = back[:size]
            took = time.perf_counter_ns() - start
            if view[size - 1] != payload[size - 1]:
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
    for size in (int(s) for s in sizes.split(",")):
        print(size, measure(size, warmup, iters), flush=True)


if __name__ == "__main__":
    main()
