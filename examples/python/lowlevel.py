"""The Python side of the low-level example: one `async def` handler for one Rust message type."""

import asyncio
from collections import Counter
from typing import TypedDict


class Summarize(TypedDict):
    text: str
    top: int


class Summary(TypedDict):
    words: int
    top_words: list[tuple[str, int]]


async def summarize(msg: Summarize) -> Summary:
    """Counts the words of `msg["text"]` and returns the `msg["top"]` most frequent ones."""
    words = msg["text"].split()
    if not words:
        raise ValueError("nothing to summarize: the text is empty")
    await asyncio.sleep(0)  # a real handler would await I/O here
    counts = Counter(words)
    return {"words": len(words), "top_words": counts.most_common(msg["top"])}
