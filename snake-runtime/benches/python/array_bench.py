"""Handlers of the numpy array benchmark (`benches/arrays.rs`)."""

from typing import Any

import numpy as np
import numpy.typing as npt


def total(matrix: npt.NDArray[np.float32]) -> float:
    """Reads every element once (the array views the received frame)."""
    return float(matrix.sum(dtype=np.float64))


def echo(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Returns the array it got: copied out of Python once, then into the reply's frame."""
    return matrix


def echo_bytes(data: Any) -> Any:
    """The `SharedBytes` floor: returns the view it got."""
    return data
