"""The module behind `tests/integration/arrays.rs`: `snake::Array` as `numpy.ndarray` in Python."""

from typing import Any

import numpy as np
import numpy.typing as npt


def _mapping_of(address: int) -> str:
    """The /proc/self/maps path of the mapping that holds `address` ('' for anonymous memory)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return fields[5].strip() if len(fields) > 5 else ""
    return "?"


def inspect(matrix: npt.NDArray[np.float32]) -> dict[str, Any]:
    """What Python got: type, dtype, shape, the sum, and where the data lies."""
    address = matrix.__array_interface__["data"][0]
    base = matrix
    while isinstance(base, np.ndarray):
        base = base.base
    return {
        "kind": type(matrix).__name__,
        "dtype": str(matrix.dtype),
        "shape": list(matrix.shape),
        "sum": float(matrix.sum(dtype=np.float64)),
        "corner": float(matrix[-1, -1]) if matrix.size else 0.0,
        "writeable": bool(matrix.flags.writeable),
        "in_shared_memory": _mapping_of(address).startswith("/memfd:"),
        "owner": type(base.obj).__name__ if isinstance(base, memoryview) else type(base).__name__,
    }


def total(matrix: npt.NDArray[np.float32]) -> float:
    return float(matrix.sum(dtype=np.float64))


def echo(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return matrix


def double(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return matrix * np.float32(2)


def write_attempt(matrix: npt.NDArray[np.float32]) -> str:
    try:
        matrix[0, 0] = 1.0
    except ValueError as err:
        return "ValueError: " + str(err)
    return "written"


def echo_record(record: dict[str, Any]) -> dict[str, Any]:
    """Every supported element type in one message, each returned incremented (bool: negated)."""
    out = {}
    for key, value in record.items():
        out[key] = ~value if value.dtype == np.bool_ else value + value.dtype.type(1)
    return out


def make(kind: str) -> Any:
    """Replies for the `Array<f32, Ix2>` reply type, right and wrong."""
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    if kind == "right":
        return base
    if kind == "transposed":
        return base.T
    if kind == "strided":
        return base[:, ::2]
    if kind == "float64":
        return base.astype(np.float64)
    if kind == "rank1":
        return base.ravel()
    if kind == "float64_rank1":
        return base.astype(np.float64).ravel()
    if kind == "list":
        return base.tolist()
    return None
