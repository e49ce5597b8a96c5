"""The handlers are plain Python: unit-tested without Rust, with the callback module faked."""

import asyncio
import sys
import types

import pytest


@pytest.fixture(autouse=True)
def fake_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("snake_callbacks")

    async def stop_words_async(language: str) -> list[str]:
        assert language == "en"
        return ["the"]

    module.stop_words_async = stop_words_async  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snake_callbacks", module)
    sys.modules.pop("quickstart", None)


def test_summarize_skips_stop_words_and_ranks() -> None:
    import quickstart

    summary = asyncio.run(quickstart.summarize({"text": "the a b a c a b", "top": 2}))
    assert summary == {"words": 6, "top_words": [("a", 3), ("b", 2)]}


def test_summarize_rejects_empty_text() -> None:
    import quickstart

    with pytest.raises(ValueError, match="text is empty"):
        asyncio.run(quickstart.summarize({"text": "  ", "top": 1}))


def test_tokenize_and_running_count() -> None:
    import quickstart

    assert quickstart.tokenize("Hello, World!") == ["hello", "world"]
    assert list(quickstart.running_count("a b\nc\n\nd e f")) == [2, 3, 3, 6]
