"""The example handlers are plain Python: they are unit-tested without Rust."""

import asyncio

import pytest

from lowlevel import summarize


def test_summarize_counts_and_ranks_words() -> None:
    summary = asyncio.run(summarize({"text": "a b a c a b", "top": 2}))
    assert summary == {"words": 6, "top_words": [("a", 3), ("b", 2)]}


def test_summarize_rejects_empty_text() -> None:
    with pytest.raises(ValueError, match="text is empty"):
        asyncio.run(summarize({"text": "  ", "top": 1}))
