"""The Python side of the quick start: the functions `TextAnalytics` declares in Rust.

`mypy --strict` checks this module against the generated `snake_actors.TextAnalytics`
protocol (through `check_quickstart.py`), so a renamed field or a wrong return type fails
before any message is sent.
"""

from collections import Counter
from collections.abc import Iterator

import snake_callbacks
from snake_types import Summarize, Summary


async def summarize(request: Summarize, /) -> Summary:
    """Counts the words of a text, without stop words, and ranks the most frequent."""
    if not request["text"].strip():
        raise ValueError("nothing to summarize: the text is empty")
    stop = set(await snake_callbacks.stop_words_async("en"))
    words = [word for word in request["text"].split() if word not in stop]
    counts = Counter(words)
    return {"words": len(words), "top_words": counts.most_common(request["top"])}


def tokenize(text: str, /) -> list[str]:
    """Splits a text into lower-case words."""
    return [word.strip(",.;:!?").lower() for word in text.split()]


def running_count(text: str, /) -> Iterator[int]:
    """Yields the running number of words, one line at a time."""
    total = 0
    for line in text.splitlines():
        total += len(line.split())
        yield total
