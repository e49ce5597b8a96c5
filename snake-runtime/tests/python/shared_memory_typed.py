"""The module behind `shared_memory::a_typed_fixture_runs_and_passes_mypy_and_pyright`: handlers
that take and return `snake::SharedBytes`, type-checked (`mypy --strict`, pyright) against the
stubs generated for them, where a `SharedBytes` is `memoryview | bytes | bytearray` both ways
(a handler always receives a `memoryview`). `snake_types` exists only there, so its names are
imported for type checking and written as strings.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snake_types import Blob


def echo(blob: "Blob") -> "Blob":
    """Returns the view it got, in a dict: handed back to the parent's arena."""
    return {"data": blob["data"], "tag": blob["tag"] + 1}


def middle(data: memoryview | bytes | bytearray) -> memoryview | bytes | bytearray:
    """A slice of the view it got (always a `memoryview` at run time), without the first and
    last byte: handed back as well."""
    return data[1:-1]


def reversed_copy(data: memoryview | bytes | bytearray) -> bytes:
    """New bytes, copied out of Python."""
    return bytes(data[::-1])
