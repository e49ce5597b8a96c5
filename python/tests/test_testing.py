"""`snake.testing`: `check` with the child's rules and messages, `run`, and the callback fakes."""

import types
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

import snake
from snake.testing import CallbackFakes, ConversionError, check, load_schema, run

SCHEMA = load_schema(Path(__file__).parent / "fixtures" / "testing")

ITEM = {"name": "a", "score": 1.5, "rank": 3, "flag": True, "note": None}


def fails(value: object, type_: object, root: str = "reply") -> str:
    with pytest.raises(ConversionError) as error:
        check(value, type_, schema=SCHEMA, root=root)
    return str(error.value)


def test_a_valid_reply_passes_and_comes_back_as_rust_would_return_it() -> None:
    reply = {"items": [ITEM], "shape": {"Square": {"side": 2}}, "counts": {"x": np.uint8(4)}}
    converted = check(reply, "Reply", schema=SCHEMA)
    assert converted == {"items": [ITEM], "shape": {"Square": {"side": 2.0}}, "counts": {"x": 4}}
    assert type(converted["counts"]["x"]) is int


def test_messages_name_the_path_as_the_child_does() -> None:
    items = [ITEM, ITEM, ITEM, {**ITEM, "score": "high"}]
    reply = {"items": items, "shape": "Empty", "counts": {}}
    assert fails(reply, "Reply") == "reply.items[3].score: expected float, got str"
    assert fails({**ITEM, "rank": 300}, "Item") == "reply.rank: integer 300 out of range for u8"
    assert fails({**ITEM, "rank": 2**200}, "Item") == (
        "reply.rank: integer 16069380442589902755... (61 digits) out of range for u8"
    )
    assert fails({"name": "a"}, "Item") == "reply: missing field `score`"
    assert fails([1], "Item") == "reply: expected dict, got list"
    assert fails({"items": [], "shape": "Empty", "counts": {"k": "v"}}, "Reply") == (
        'reply.counts["k"]: expected int, got str'
    )
    assert fails({"items": [], "shape": "Empty", "counts": {(1,): 1}}, "Reply") == (
        "reply.counts: unsupported key of type tuple: dict keys must be str or int"
    )


def test_bool_is_no_int_but_numpy_scalars_are_numbers() -> None:
    assert fails({**ITEM, "rank": True}, "Item") == "reply.rank: expected int, got bool"
    assert fails({**ITEM, "score": False}, "Item") == "reply.score: expected float, got bool"
    converted = check({**ITEM, "rank": np.int64(7), "score": np.float32(0.5), "flag": np.bool_(True)}, "Item", schema=SCHEMA)
    assert converted["rank"] == 7 and converted["score"] == 0.5 and converted["flag"] is True
    assert fails({**ITEM, "rank": np.bool_(True)}, "Item").startswith("reply.rank: expected int, got bool")


def test_unknown_keys_are_refused_unless_the_type_allows_them() -> None:
    assert fails({**ITEM, "prise": 1}, "Item") == (
        "reply: unknown key `prise` (expected one of `name`, `score`, `rank`, `flag`, `note`)"
    )
    assert check({"id": 1, "extra": "x"}, "Loose", schema=SCHEMA) == {"id": 1}


def test_optional_fields_take_none_or_may_be_missing_as_serde_reads_them() -> None:
    without_note = {key: value for key, value in ITEM.items() if key != "note"}
    assert check(without_note, "Item", schema=SCHEMA)["note"] is None
    assert fails({**ITEM, "note": 3}, "Item") == "reply.note: expected str, got int"


def test_enums_take_the_generated_shapes() -> None:
    assert check("Empty", "Shape", schema=SCHEMA) == "Empty"
    assert check({"Empty": None}, "Shape", schema=SCHEMA) == "Empty"
    assert check({"Circle": 1}, "Shape", schema=SCHEMA) == {"Circle": 1.0}
    assert fails("Triangle", "Shape") == "reply: unknown variant `Triangle`, expected one of `Circle`, `Square`, `Empty`"
    assert fails("Circle", "Shape") == "reply: expected dict with a single key, got str"
    assert fails({"Circle": 1, "Square": 2}, "Shape") == "reply: invalid length 2, expected dict with a single key"
    assert fails({"Square": {"side": "2"}}, "Shape") == "reply.Square.side: expected float, got str"
    assert fails({"Empty": 1}, "Shape") == "reply.Empty: expected None, got int"
    assert fails(3, "Shape") == "reply: expected str or dict with a single key, got int"


def test_plain_annotations_are_checked_too() -> None:
    assert check([("a", 1)], list[tuple[str, int]]) == [("a", 1)]
    assert check(None, int | None) is None
    with pytest.raises(ConversionError, match=r"^value\[0\]: invalid length 1, expected tuple of length 2$"):
        check([("a",)], list[tuple[str, int]])
    with pytest.raises(TypeError, match="not a type snake can check"):
        check(1, Any)
    with pytest.raises(ConversionError, match=r"^value: unknown variant `b`, expected `a`$"):
        check("b", Literal["a"])


def _module(name: str, **functions: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for function_name, function in functions.items():
        function.__module__ = name
        function.__name__ = function_name
        function.__qualname__ = function_name
        setattr(module, function_name, function)
    return module


def test_run_checks_request_and_reply_against_the_declaration() -> None:
    def score(item: Any, /) -> Any:
        return item["score"] * 2

    scoring = _module("scoring", score=score)
    assert run(scoring.score, ITEM, schema=SCHEMA) == 3.0
    with pytest.raises(ConversionError, match=r"^request: missing field `score`$"):
        run(scoring.score, {"name": "a"}, schema=SCHEMA)

    def bad(item: Any, /) -> Any:
        return "high"

    scoring = _module("scoring", score=bad)
    with pytest.raises(ConversionError, match=r"^reply: expected float, got str$"):
        run(scoring.score, ITEM, schema=SCHEMA)


def test_run_collects_async_generators_and_refuses_the_wrong_kind() -> None:
    async def ranks(text: Any, /) -> Any:
        for word in text.split():
            yield len(word)

    scoring = _module("scoring", ranks=ranks)
    assert run(scoring.ranks, "a bbb cc", schema=SCHEMA) == [1, 3, 2]

    async def too_big(text: Any, /) -> Any:
        yield 1000

    scoring = _module("scoring", ranks=too_big)
    with pytest.raises(ConversionError, match=r"^reply: integer 1000 out of range for u8$"):
        run(scoring.ranks, "x", schema=SCHEMA)

    def plain(text: Any, /) -> Any:
        return [1]

    scoring = _module("scoring", ranks=plain)
    with pytest.raises(TypeError, match="is a plain function, but Rust declares it as an async generator function"):
        run(scoring.ranks, "x", schema=SCHEMA)


def test_run_without_a_declaration_uses_the_annotations() -> None:
    async def double(n: int, /) -> list[int]:
        return [n, "two"]  # type: ignore[list-item]

    with pytest.raises(ConversionError, match=r"^reply\[1\]: expected int, got str$"):
        run(double, 1, schema=SCHEMA)


def _callbacks_module() -> types.ModuleType:
    """A stand-in for the generated `snake_callbacks.py`: functions that call `_FAKES`."""
    module = types.ModuleType("snake_callbacks")
    fakes: dict[str, Any] = {}
    module._FAKES = fakes  # type: ignore[attr-defined]

    def lookup(arg: int, /) -> Any:
        return module._FAKES["lookup"](arg)

    module.lookup = lookup  # type: ignore[attr-defined]
    return module


def test_fakes_return_raise_and_check_both_ways() -> None:
    module = _callbacks_module()
    fakes = CallbackFakes(module, SCHEMA)
    fakes.lookup = ITEM
    assert module.lookup(1) == ITEM
    fakes.lookup = lambda user: {**ITEM, "rank": user}
    assert module.lookup(2)["rank"] == 2
    fakes.lookup = snake.CallbackError("no such user")
    with pytest.raises(snake.CallbackError, match="no such user"):
        module.lookup(3)
    with pytest.raises(ConversionError, match=r"^callback: expected int, got str$"):
        module.lookup("4")
    fakes.lookup = {"name": "a"}
    with pytest.raises(ConversionError, match=r"^callback_reply: missing field `score`$"):
        module.lookup(5)
    assert [name for name, _ in fakes.calls] == ["lookup"] * 4
    with pytest.raises(AttributeError, match="there is no callback 'lokup' to fake"):
        fakes.lokup = 1


pytest_plugins = ["pytester"]


def test_the_plugin_fakes_generated_callbacks_and_callback_handle(pytester: pytest.Pytester) -> None:
    examples = Path(__file__).parents[2] / "examples" / "python"
    pytester.makepyfile(
        test_handler=f"""
        import asyncio, sys
        sys.path.insert(0, {str(examples)!r})
        import pytest, snake, snake_callbacks

        def test_unfaked_callbacks_name_the_fixture():
            with pytest.raises(RuntimeError, match="snake_callbacks` fixture of snake.testing"):
                snake_callbacks.stop_words("en")

        def test_faked(snake_callbacks):
            import snake_callbacks as module
            snake_callbacks.stop_words = ["the"]
            snake_callbacks.callback_handle = lambda msg: {{"name": "user " + str(msg["id"])}}
            assert module.stop_words("en") == ["the"]
            assert asyncio.run(module.stop_words_async("en")) == ["the"]
            assert snake.callback_handle({{"id": 1}}) == {{"name": "user 1"}}
            async def handler():
                return await snake.callback_handle({{"id": 2}})
            assert asyncio.run(handler()) == {{"name": "user 2"}}
            with pytest.raises(Exception, match="callback: expected str, got int"):
                module.stop_words(1)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_shared_bytes_field_takes_any_buffer_and_reads_as_a_read_only_view() -> None:
    for value in (b"ab", bytearray(b"ab"), memoryview(b"ab")):
        view = check(value, memoryview, schema=SCHEMA)
        assert isinstance(view, memoryview) and view.readonly and bytes(view) == b"ab"
    assert fails(1, memoryview) == "reply: expected bytes-like object, got int"
