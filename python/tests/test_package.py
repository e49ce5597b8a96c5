"""The package imports outside a child process and declares its version consistently."""

import tomllib
from pathlib import Path

import snake


def test_version_matches_pyproject() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert snake.__version__ == pyproject["project"]["version"]


def test_outside_a_child_callbacks_raise_instead_of_hanging() -> None:
    import pytest

    import kameo

    assert snake.IN_CHILD is False
    assert kameo.callback_handle is snake.callback_handle
    with pytest.raises(RuntimeError, match="inside a snake child"):
        snake.callback_handle({"x": 1})
    with pytest.raises(RuntimeError, match="inside a snake child"):
        kameo.callback_stream({"x": 1})
