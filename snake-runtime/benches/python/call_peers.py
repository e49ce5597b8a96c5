"""What a Python user would pick to call Python in another process, for the small-call rows:
a `multiprocessing.Pipe` ping-pong with a process that echoes what it receives, and a
`ProcessPoolExecutor(1)` running an echo function, one call at a time and with WINDOW calls in
flight. The message is a string of PAYLOAD characters, the size of the round-trip table's small
call; every answer is checked against what was sent.

Usage: call_peers.py PAYLOAD WARMUP ITERS WINDOW SECONDS; prints `pipe_p50 <ns>`,
`pool_p50 <ns>` and `pool_pipelined <calls/s>`, one per line.
"""

import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import Pipe, Process
from multiprocessing.connection import Connection


def echo(message: str) -> str:
    return message


def pipe_echo(conn: Connection) -> None:
    while (message := conn.recv()) is not None:
        conn.send(message)


def median(samples: list[int]) -> int:
    samples.sort()
    return samples[(len(samples) * 50 + 99) // 100 - 1]


def pipe_p50(message: str, warmup: int, iters: int) -> int:
    ours, theirs = Pipe()
    worker = Process(target=pipe_echo, args=(theirs,))
    worker.start()
    samples = []
    try:
        for i in range(warmup + iters):
            start = time.perf_counter_ns()
            ours.send(message)
            answer = ours.recv()
            took = time.perf_counter_ns() - start
            if answer != message:
                raise SystemExit("the pipe echoed another message")
            if i >= warmup:
                samples.append(took)
    finally:
        ours.send(None)
        worker.join(10)
    return median(samples)


def pool_p50(pool: ProcessPoolExecutor, message: str, warmup: int, iters: int) -> int:
    samples = []
    for i in range(warmup + iters):
        start = time.perf_counter_ns()
        answer = pool.submit(echo, message).result()
        took = time.perf_counter_ns() - start
        if answer != message:
            raise SystemExit("the pool echoed another message")
        if i >= warmup:
            samples.append(took)
    return median(samples)


def pool_pipelined(pool: ProcessPoolExecutor, message: str, window: int, seconds: float) -> float:
    in_flight: deque[Future[str]] = deque(pool.submit(echo, message) for _ in range(window))
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        if in_flight.popleft().result() != message:
            raise SystemExit("the pool echoed another message")
        done += 1
        in_flight.append(pool.submit(echo, message))
    elapsed = time.perf_counter() - start
    for future in in_flight:
        future.result()
    return done / elapsed


def main() -> None:
    payload, warmup, iters, window = (int(arg) for arg in sys.argv[1:5])
    seconds = float(sys.argv[5])
    message = "x" * payload
    print("pipe_p50", pipe_p50(message, warmup, iters), flush=True)
    with ProcessPoolExecutor(1) as pool:
        print("pool_p50", pool_p50(pool, message, warmup, iters), flush=True)
        print("pool_pipelined", round(pool_pipelined(pool, message, window, seconds)), flush=True)


if __name__ == "__main__":
    main()
