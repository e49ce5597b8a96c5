"""The package imports outside a child process and declares its version consistently."""

import tomllib
from pathlib import Path

import snake


def test_version_matches_pyproject() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert snake.__version__ == pyproject["project"]["version"]
