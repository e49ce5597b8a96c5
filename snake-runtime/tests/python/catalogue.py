"""Replies with keys the Rust types do not have (see `tests/integration/macros.rs`)."""

from typing import Any


def misspelled(name: str) -> dict[str, Any]:
    return {"name": name, "prise": 2.5}


def spelled(name: str) -> dict[str, Any]:
    return {"name": name, "price": 2.5}


def annotated(name: str) -> dict[str, Any]:
    return {"name": name, "note": "added by Python"}


def outline(radius: float) -> dict[str, Any]:
    return {"Circle": {"radius": radius, "r": radius}}
