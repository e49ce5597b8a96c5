"""The module behind `tests/integration/arrays.rs`: `snake::Array` as `numpy.ndarray` in Python.

Also type-checked (`mypy --strict`, pyright) against the stubs generated for it; `snake_types`
exists only there, so its names are imported for type checking and written as strings.
"""

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from snake_types import ArrayInfo, ArrayRecord, Features, Labeled


def _mapping_of(address: int) -> str:
    """The /proc/self/maps path of the mapping that holds `address` ('' for anonymous memory)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return fields[5].strip() if len(fields) > 5 else ""
    return "?"


def inspect(matrix: npt.NDArray[np.float32]) -> "ArrayInfo":
    """What Python got: type, dtype, shape, the sum, and where the data lies."""
    address: int = matrix.__array_interface__["data"][0]
    base: Any = matrix
    while isinstance(base, np.ndarray):
        base = base.base
    owner = type(base.obj).__name__ if isinstance(base, memoryview) else type(base).__name__
    return {
        "kind": type(matrix).__name__,
        "dtype": str(matrix.dtype),
        "shape": [int(n) for n in matrix.shape],
        "sum": float(matrix.sum(dtype=np.float64)),
        "corner": float(matrix[-1, -1]) if matrix.size else 0.0,
        "writeable": bool(matrix.flags.writeable),
        "in_shared_memory": _mapping_of(address).startswith("/memfd:"),
        "aligned": address % 64 == 0,
        "owner": owner,
    }


def total(matrix: npt.NDArray[np.float32]) -> float:
    return float(matrix.sum(dtype=np.float64))


def echo(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return matrix


def double(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return (matrix * 2).astype(np.float32)


def write_attempt(matrix: npt.NDArray[np.float32]) -> str:
    try:
        matrix[0, 0] = 1.0
    except ValueError as err:
        return "ValueError: " + str(err)
    return "written"


def echo_record(record: "ArrayRecord") -> "ArrayRecord":
    """Every supported element type in one message, each returned incremented (bool: negated)."""
    return {
        "f32s": (record["f32s"] + 1).astype(np.float32),
        "f64s": (record["f64s"] + 1).astype(np.float64),
        "i32s": (record["i32s"] + 1).astype(np.int32),
        "i64s": (record["i64s"] + 1).astype(np.int64),
        "u8s": (record["u8s"] + 1).astype(np.uint8),
        "flags": np.logical_not(record["flags"]),
    }


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


def transform(features: "Features") -> "Features":
    """An untagged enum: an array doubled, a name upper-cased (`"float64"`: a float64 array)."""
    if isinstance(features, np.ndarray):
        return (features * 2).astype(np.float32)
    if features == "float64":
        return np.ones((2, 2))  # type: ignore[return-value]
    return features.upper()


def relabel(labeled: "Labeled") -> "Labeled":
    """A flattened struct: the ids reversed (not C-contiguous), the label repeated."""
    return {"label": labeled["label"] * 2, "ids": labeled["ids"][::-1]}
