"""The pytest plugin of `snake.testing` (registered through the `pytest11` entry point)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from ._check import find_schema
from ._fakes import CallbackFakes, install


@pytest.fixture
def snake_callbacks(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallbackFakes]:
    """Fakes for the callbacks handlers make into Rust; see `snake.testing.CallbackFakes`.

    `import snake_callbacks` (the generated module next to the stubs) then works in the test and
    calls the fakes the test sets; a callback without a fake raises `RuntimeError`.
    """
    try:
        module = importlib.import_module("snake_callbacks")
    except ImportError:
        module = None
    if module is not None and not hasattr(module, "_FAKES"):
        pytest.fail(
            f"{getattr(module, '__file__', 'snake_callbacks')} is not a generated snake_callbacks.py: "
            "regenerate the stubs with `<binary> --snake-stubs write DIR`"
        )
    schema = find_schema("snake_callbacks")
    fakes = CallbackFakes(module, schema)
    if module is not None:
        monkeypatch.setattr(module, "_FAKES", {})
    undo = install(fakes)
    try:
        yield fakes
    finally:
        undo()
