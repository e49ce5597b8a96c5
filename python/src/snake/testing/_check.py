"""Checks Python values against the shapes in `snake_schema.json`, with the child's rules.

The rules follow the child's conversion (`serde_py` in the Rust crate): the same accepted Python
types, the same refusals (a `bool` where an int is declared, a dict key the type does not have),
and the same messages, which name the path to the offending value
(`reply.items[3].score: expected float, got str`). The shapes themselves come only from the
schema file the stub generator writes next to the stubs.
"""

from __future__ import annotations

import json
import os
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA_FILE = "snake_schema.json"
MAX_DEPTH = 256
_MAX_DIGITS = 40


class ConversionError(AssertionError):
    """A value the child would refuse; `str(err)` is the child's message, `path: what`."""

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        super().__init__(f"{path}: {what}" if path else what)


class Schema:
    """The types and declarations of one `snake_schema.json`."""

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.path = path
        self.types: dict[str, dict[str, Any]] = data["types"]
        self.actors: list[dict[str, Any]] = data["actors"]
        self.callbacks: list[dict[str, Any]] = data["callbacks"]

    def method(self, module: str, function: str) -> dict[str, Any] | None:
        """The declaration of `module.function`, if an actor declares it."""
        for actor in self.actors:
            if actor["module"] == module:
                for method in actor["methods"]:
                    if method["python_name"] == function:
                        found: dict[str, Any] = method
                        return found
        return None

    def callback(self, name: str) -> dict[str, Any] | None:
        """The declaration of callback `name`."""
        for callback in self.callbacks:
            if callback["name"] == name:
                found: dict[str, Any] = callback
                return found
        return None


_cache: dict[Path, tuple[float, Schema]] = {}


def load_schema(path: str | os.PathLike[str]) -> Schema:
    """Reads a schema file (or the one in a directory), cached until it changes."""
    file = Path(path)
    if file.is_dir():
        file = file / SCHEMA_FILE
    file = file.resolve()
    mtime = file.stat().st_mtime
    cached = _cache.get(file)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    schema = Schema(json.loads(file.read_text(encoding="utf-8")), file)
    _cache[file] = (mtime, schema)
    return schema


def _module_dir(module: str | None) -> Path | None:
    mod = sys.modules.get(module) if module else None
    file = getattr(mod, "__file__", None)
    return Path(file).parent if isinstance(file, str) else None


def find_schema(*modules: str | None) -> Schema | None:
    """The schema next to the first of `modules` that has one, else next to `snake_types`, else
    the first on `sys.path`."""
    candidates = [_module_dir(m) for m in (*modules, "snake_types", "snake_callbacks")]
    candidates += [Path(entry or ".") for entry in sys.path]
    for directory in candidates:
        if directory is not None and (directory / SCHEMA_FILE).is_file():
            return load_schema(directory / SCHEMA_FILE)
    return None


def schema_type(annotation: object, schema: Schema | None) -> dict[str, Any] | str | None:
    """The schema type of a Python annotation (`None` when it cannot tell, e.g. `Any`).

    A class or alias defined in the stubs is looked up by name; built-in annotations map to
    the type Rust most likely declared (`int` to `i64`, `float` to `f64`).
    """
    if isinstance(annotation, str):
        return {"Named": annotation} if schema is not None and annotation in schema.types else None
    if schema is not None:
        name = _stub_name(annotation, schema)
        if name is not None:
            return {"Named": name}
    if annotation is None or annotation is type(None):
        return "NoneType"
    simple: dict[object, dict[str, Any] | str] = {
        bool: "Bool",
        int: {"Int": {"signed": True, "bits": 64}},
        float: {"Float": {"bits": 64}},
        str: "Str",
        bytes: "Bytes",
        memoryview: "Buffer",
    }
    if annotation in simple:
        return simple[annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list or origin is set or origin is frozenset:
        item = schema_type(args[0], schema) if args else None
        return {"List": item} if item is not None else None
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = schema_type(args[0], schema)
            return {"List": item} if item is not None else None
        items = [schema_type(arg, schema) for arg in args]
        return None if any(item is None for item in items) else {"Tuple": items}
    if origin is dict:
        key, value = (schema_type(arg, schema) for arg in args) if len(args) == 2 else (None, None)
        return None if key is None or value is None else {"Dict": {"key": key, "value": value}}
    if origin is typing.Literal and len(args) == 1 and isinstance(args[0], str):
        return {"Literal": args[0]}
    if origin is typing.Union or origin is types.UnionType:
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            inner = schema_type(rest[0], schema)
            return {"Optional": inner} if inner is not None else None
    return None


def _stub_name(annotation: object, schema: Schema) -> str | None:
    """The name under which a stubs module next to `schema` binds `annotation`."""
    name = getattr(annotation, "__name__", None)
    module = getattr(annotation, "__module__", None)
    if isinstance(name, str) and name in schema.types and module not in ("builtins", "typing"):
        return name
    for mod in list(sys.modules.values()):
        if mod is None or getattr(mod, "__name__", "").rsplit(".", 1)[-1] != "snake_types":
            continue
        for bound, value in vars(mod).items():
            if value is annotation and bound in schema.types:
                return bound
    return None


def _type_name(value: object) -> str:
    return type(value).__name__


def _numpy(value: object) -> str | None:
    """`"bool"`, `"int"` or `"float"` for a numpy scalar, `None` for anything else."""
    if type(value).__module__ != "numpy":
        return None
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    if isinstance(value, numpy.bool_):
        return "bool"
    if isinstance(value, numpy.integer):
        return "int"
    if isinstance(value, numpy.floating):
        return "float"
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _display_int(value: int) -> str:
    text = int.__repr__(value)
    if len(text) > _MAX_DIGITS:
        return f"{text[: _MAX_DIGITS // 2]}... ({len(text.lstrip('-'))} digits)"
    return text


def _debug_str(text: str) -> str:
    """A str as Rust's `{:?}` writes it (for the simple escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _one_of(names: list[str]) -> str:
    if not names:
        return "nothing (there are none)"
    if len(names) == 1:
        return f"`{names[0]}`"
    if len(names) == 2:
        return f"`{names[0]}` or `{names[1]}`"
    return "one of " + ", ".join(f"`{name}`" for name in names)


def _keys(names: list[str]) -> str:
    if not names:
        return "no keys"
    if len(names) == 1:
        return f"`{names[0]}`"
    return "one of " + ", ".join(f"`{name}`" for name in names)


def _is_optional(ty: object) -> bool:
    return isinstance(ty, dict) and "Optional" in ty


class Checker:
    """Walks a value along a schema type; returns the value as Rust would hand it back."""

    def __init__(self, schema: Schema | None, root: str) -> None:
        self.schema = schema
        self.path = root
        self.depth = 0

    def fail(self, what: str) -> ConversionError:
        return ConversionError(self.path, what)

    def mismatch(self, expected: str, value: object) -> ConversionError:
        return self.fail(f"expected {expected}, got {_type_name(value)}")

    def at(self, segment: str, ty: Any, value: object) -> Any:
        saved = self.path
        self.path = f"{saved}.{segment}" if saved else segment
        if segment.startswith("["):
            self.path = saved + segment
        try:
            return self.check(ty, value)
        finally:
            self.path = saved

    def check(self, ty: Any, value: object) -> Any:
        if isinstance(ty, str):
            return self.scalar(ty, value)
        ((tag, body),) = ty.items()
        if tag == "Int":
            return self.read_int(body["signed"], body["bits"], value)
        if tag == "Float":
            return self.read_float(body["bits"], value)
        if tag == "Optional":
            return None if value is None else self.check(body, value)
        if tag == "Literal":
            if not isinstance(value, str):
                raise self.mismatch("str", value)
            if value != body:
                raise self.fail(f"unknown variant `{value}`, expected `{body}`")
            return value
        if tag == "Named":
            return self.named(body, value)
        return self.nested(tag, body, value)

    def scalar(self, ty: str, value: object) -> Any:
        if ty == "Bool":
            if isinstance(value, bool):
                return value
            if _numpy(value) == "bool":
                return bool(value)
            raise self.mismatch("bool", value)
        if ty == "Str":
            if isinstance(value, str):
                return value
            raise self.mismatch("str", value)
        if ty == "Char":
            if not isinstance(value, str):
                raise self.mismatch("str of length 1", value)
            if len(value) != 1:
                raise self.fail(f"invalid length {len(value)}, expected str of length 1")
            return value
        if ty == "Bytes":
            if isinstance(value, (bytes, bytearray)):
                return bytes(value)
            raise self.mismatch("bytes", value)
        if ty == "Buffer":
            # `snake::SharedBytes`: the child hands handlers a read-only view and takes any buffer.
            try:
                return memoryview(value).toreadonly()  # type: ignore[arg-type]
            except TypeError:
                raise self.mismatch("bytes-like object", value) from None
        if ty == "NoneType":
            if value is None:
                return None
            raise self.mismatch("None", value)
        if ty == "Never":
            raise self.fail("no value is allowed here (an enum without variants)")
        raise self.fail(f"unknown schema type {ty!r}")

    def read_int(self, signed: bool, bits: int, value: object) -> int:
        number: int
        if isinstance(value, int) and not isinstance(value, bool):
            number = int(value)
        elif _numpy(value) == "int":
            number = int(value.__index__())  # type: ignore[attr-defined]
        else:
            raise self.mismatch("int", value)
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
        if not low <= number < high:
            target = f"{'i' if signed else 'u'}{bits}"
            raise self.fail(f"integer {_display_int(number)} out of range for {target}")
        return number

    def read_float(self, bits: int, value: object) -> float:
        if isinstance(value, float):
            return float(value)
        kind = _numpy(value)
        if _is_int(value) or kind == "int":
            number = int(value.__index__())  # type: ignore[attr-defined]
            try:
                return float(number)
            except OverflowError:
                raise self.fail(f"integer {_display_int(number)} out of range for f{bits}") from None
        if kind == "float":
            return float(value)  # type: ignore[arg-type]
        raise self.mismatch("float", value)

    def elements(self, value: object, ordered_only: bool) -> list[Any] | None:
        if isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(value, (bytes, bytearray)):
            return list(value)
        if not ordered_only and isinstance(value, (set, frozenset)):
            return list(value)
        return None

    def enter(self) -> None:
        if self.depth >= MAX_DEPTH:
            raise self.fail(f"value nested more than {MAX_DEPTH} levels deep (or containing itself)")
        self.depth += 1

    def nested(self, tag: str, body: Any, value: object) -> Any:
        self.enter()
        try:
            if tag == "List":
                items = self.elements(value, ordered_only=False)
                if items is None:
                    raise self.mismatch("list", value)
                return [self.at(f"[{i}]", body, item) for i, item in enumerate(items)]
            if tag == "Tuple":
                return self.read_tuple(body, value)
            if tag == "Array":
                return self.read_tuple([body["item"]] * body["len"], value)
            if tag == "Dict":
                return self.read_dict(body["key"], body["value"], value)
            raise self.fail(f"unknown schema type {tag!r}")
        finally:
            self.depth -= 1

    def read_tuple(self, items: list[Any], value: object) -> tuple[Any, ...]:
        elements = self.elements(value, ordered_only=True)
        if elements is None:
            raise self.mismatch("tuple", value)
        if len(elements) != len(items):
            raise self.fail(f"invalid length {len(elements)}, expected tuple of length {len(items)}")
        return tuple(self.at(f"[{i}]", ty, item) for i, (ty, item) in enumerate(zip(items, elements)))

    def entries(self, value: object) -> list[tuple[Any, Any]] | None:
        if isinstance(value, dict):
            return list(value.items())
        if isinstance(value, Mapping):
            return list(value.items())
        return None

    def read_dict(self, key_ty: Any, value_ty: Any, value: object) -> dict[Any, Any]:
        entries = self.entries(value)
        if entries is None:
            raise self.mismatch("dict", value)
        out: dict[Any, Any] = {}
        for key, item in entries:
            if not isinstance(key, str) and not _is_int(key):
                raise self.fail(f"unsupported key of type {_type_name(key)}: dict keys must be str or int")
            converted = self.check(key_ty, key)
            segment = f"[{_debug_str(key)}]" if isinstance(key, str) else f"[{_display_int(key)}]"
            out[converted] = self.at(segment, value_ty, item)
        return out

    def named(self, name: str, value: object) -> Any:
        if self.schema is None or name not in self.schema.types:
            raise self.fail(f"`{name}` is not in the schema")
        entry = self.schema.types[name]
        kind = entry["kind"]
        if kind == "UnitStruct":
            if value is None:
                return None
            raise self.mismatch("None", value)
        ((tag, body),) = kind.items()
        self.enter()
        try:
            if tag == "Struct":
                return self.fields(body["fields"], entry["allow_unknown_keys"], value)
            if tag == "TupleStruct":
                return self.read_tuple(body["items"], value)
            if tag == "Newtype":
                return self.check(body["inner"], value)
            return self.enumeration(name, body["representation"], body["variants"], entry, value)
        finally:
            self.depth -= 1

    def fields(self, fields: list[dict[str, Any]], allow_unknown: bool, value: object) -> dict[str, Any]:
        entries = self.entries(value)
        if entries is None:
            raise self.mismatch("dict", value)
        by_name = {field["name"]: field for field in fields}
        given: dict[str, Any] = {}
        for key, item in entries:
            if not isinstance(key, str):
                raise self.mismatch("str key", key)
            field = by_name.get(key)
            if field is None:
                if allow_unknown:
                    continue
                raise self.fail(f"unknown key `{key}` (expected {_keys(list(by_name))})")
            given[key] = self.at(key, field["ty"], item)
        out: dict[str, Any] = {}
        for field in fields:
            name = field["name"]
            if name in given:
                out[name] = given[name]
            elif _is_optional(field["ty"]):
                # serde reads a missing `Option` field as `None`.
                if field["required"]:
                    out[name] = None
            elif field["required"]:
                raise self.fail(f"missing field `{name}`")
        return out

    def enumeration(
        self, name: str, representation: Any, variants: list[dict[str, Any]], entry: dict[str, Any], value: object
    ) -> Any:
        if representation == "External":
            return self.external(variants, entry["allow_unknown_keys"], value)
        if representation == "Untagged":
            for variant in variants:
                try:
                    return self.content(variant, entry["allow_unknown_keys"], value)
                except ConversionError:
                    continue
            raise self.fail(f"data did not match any variant of untagged enum {name}")
        entries = self.entries(value)
        if entries is None:
            raise self.mismatch("dict", value)
        mapping = dict(entries)
        ((kind, spec),) = representation.items()
        tag = spec["tag"]
        if tag not in mapping:
            raise self.fail(f"missing field `{tag}`")
        chosen = next((v for v in variants if v["name"] == mapping[tag]), None)
        if chosen is None:
            raise self.fail(f"unknown variant `{mapping[tag]}`, expected {_one_of([v['name'] for v in variants])}")
        if kind == "Internal":
            rest = {k: v for k, v in mapping.items() if k != tag}
            shape = chosen["shape"]
            content = self.content(chosen, True, None if shape == "Unit" else rest)
            return {tag: chosen["name"], **(content or {})}
        content_key = spec["content"]
        if chosen["shape"] == "Unit":
            return {tag: chosen["name"]}
        if content_key not in mapping:
            raise self.fail(f"missing field `{content_key}`")
        return {tag: chosen["name"], content_key: self.at_variant(content_key, chosen, True, mapping[content_key])}

    def external(self, variants: list[dict[str, Any]], allow_unknown: bool, value: object) -> Any:
        names = [variant["name"] for variant in variants if not variant["untagged"]]
        by_name = {variant["name"]: variant for variant in variants if not variant["untagged"]}
        if isinstance(value, str):
            variant = by_name.get(value)
            if variant is None:
                raise self.fail(f"unknown variant `{value}`, expected {_one_of(names)}")
            if variant["shape"] != "Unit":
                raise self.fail("expected dict with a single key, got str")
            return value
        entries = self.entries(value)
        if entries is None:
            raise self.mismatch("str or dict with a single key", value)
        if len(entries) != 1:
            raise self.fail(f"invalid length {len(entries)}, expected dict with a single key")
        ((key, content),) = entries
        if not isinstance(key, str):
            raise self.mismatch("str key", key)
        variant = by_name.get(key)
        if variant is None:
            raise self.fail(f"unknown variant `{key}`, expected {_one_of(names)}")
        if variant["shape"] == "Unit":
            if content is not None:
                self.path += f".{key}"
                raise self.mismatch("None", content)
            return key
        return {key: self.at_variant(key, variant, allow_unknown, content)}

    def content(self, variant: dict[str, Any], allow_unknown: bool, value: object) -> Any:
        shape = variant["shape"]
        if shape == "Unit":
            if value is not None:
                raise self.mismatch("None", value)
            return None
        ((tag, body),) = shape.items()
        if tag == "Newtype":
            return self.check(body, value)
        if tag == "Tuple":
            return self.read_tuple(body, value)
        return self.fields(body, allow_unknown, value)

    def at_variant(self, segment: str, variant: dict[str, Any], allow_unknown: bool, value: object) -> Any:
        saved = self.path
        self.path = f"{saved}.{segment}" if saved else segment
        try:
            return self.content(variant, allow_unknown, value)
        finally:
            self.path = saved


def convert(value: object, ty: Any, schema: Schema | None, root: str) -> Any:
    """`value` as the child would read it into Rust and hand it back to Python, or the child's
    error as a `ConversionError`."""
    return Checker(schema, root).check(ty, value)
