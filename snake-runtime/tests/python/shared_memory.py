"""The module behind `tests/integration/shared_memory.rs`: `snake::SharedBytes` in Python."""

import array
import gc
import os
from typing import Any

# Views a handler keeps after it returned; their regions must stay intact.
KEPT: list[memoryview] = []


def echo(blob: dict[str, Any]) -> dict[str, Any]:
    """Returns the view it got: handed back to the parent's arena, no copy at all."""
    return {"data": blob["data"], "tag": blob["tag"] + 1}


def inspect(data: memoryview) -> dict[str, Any]:
    return {
        "kind": type(data).__name__,
        "readonly": bool(data.readonly),
        "length": len(data),
        "checksum": sum(data[:: max(1, len(data) // 4096)]) + data[-1] if len(data) else 0,
    }


def keep(data: memoryview) -> int:
    KEPT.append(data[1:])  # a slice keeps the whole view's region as well
    return len(KEPT)


def echo_keep(data: memoryview) -> memoryview:
    """Returns the view it got and keeps it as well."""
    KEPT.append(data)
    return data


def kept_firsts(_: None) -> list[int]:
    """The first and last byte of every kept view, read now."""
    return [b for view in KEPT for b in (view[0], view[-1])]


def forget(_: None) -> int:
    n = len(KEPT)
    KEPT.clear()
    gc.collect()
    return n


def make(request: dict[str, Any]) -> object:
    size, kind = request["size"], request["kind"]
    if kind.startswith("fill-"):
        return bytes([int(kind[5:])]) * size
    payload = bytes(i % 251 for i in range(size))
    if kind == "bytes":
        return payload
    if kind == "bytearray":
        return bytearray(payload)
    if kind == "memoryview":
        return memoryview(payload)
    if kind == "array":
        return array.array("B", payload)
    if kind == "floats":
        return array.array("f", [1.0] * (size // 4))
    return 42  # not a buffer


def write_attempt(data: memoryview) -> str:
    try:
        data[0] = 1
    except TypeError as err:
        return "TypeError: " + str(err)
    return "written"


def die(data: memoryview) -> int:
    KEPT.append(data)
    os._exit(9)


def call_back(request: dict[str, Any]) -> Any:
    """Passes the bytes `make` would build to the `shm_received` callback."""
    import snake_callbacks

    return snake_callbacks.shm_received(make(request))


def relay(data: memoryview) -> Any:
    """Passes the view it got to the `shm_received` callback."""
    import snake_callbacks

    return snake_callbacks.shm_received(data)


def fetch(request: dict[str, Any]) -> dict[str, Any]:
    """What the `shm_fill` callback answers, and where it lies."""
    import numpy as np
    import snake_callbacks
    from arrays import _mapping_of  # the arrays fixture's helper; both need numpy

    view = snake_callbacks.shm_fill(request)
    address = int(np.frombuffer(view, dtype=np.uint8).__array_interface__["data"][0])
    return {
        "length": len(view),
        "checksum": sum(view[:: max(1, len(view) // 4096)]) + view[-1],
        "in_shared_memory": _mapping_of(address).startswith("/memfd:"),
        "aligned": address % 64 == 0,
    }
