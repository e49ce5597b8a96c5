"""Handlers that log and warn, for the tests of log forwarding and metrics."""

import asyncio
import logging
import os
import threading
import warnings

log = logging.getLogger("snake_tests.logs")

# The user's own handler, attached at import: it must keep receiving records next to snake's.
captured = []


class ListHandler(logging.Handler):
    def emit(self, record):
        captured.append(f"{record.levelname}:{record.getMessage()}")


log.addHandler(ListHandler())


def run(msg):
    op = msg["op"]
    if op == "hello":
        log.info("hello %s", 42)
    elif op == "levels":
        log.debug("debug line")
        log.info("info line")
        log.warning("warning line")
        log.error("error line")
        log.critical("critical line")
    elif op == "exception":
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")
    elif op == "warn":
        warnings.warn("careful")
    elif op == "burst":
        for i in range(msg["n"]):
            log.info("record %d", i)
    elif op == "thread":
        worker = threading.Thread(target=lambda: log.info("from a thread"))
        worker.start()
        worker.join()
    elif op == "raise":
        raise RuntimeError("requested failure")
    elif op != "captured":
        raise ValueError(f"unknown op {op!r}")
    return {"pid": os.getpid(), "n": msg["n"], "captured": list(captured)}


async def run_async(msg):
    if msg["op"] == "sleep":
        await asyncio.sleep(msg["n"] / 1000)
    await asyncio.sleep(0)
    return run({"op": "captured" if msg["op"] == "sleep" else msg["op"], "n": msg["n"]})
