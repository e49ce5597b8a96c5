"""The handlers are plain Python: unit-tested without Rust, through `snake.testing`.

`run` calls each handler as the child would, checking the request and the reply against the Rust
declarations (from `snake_schema.json`); the `snake_callbacks` fixture fakes the callbacks.
"""

import pytest

import quickstart
import snake
from snake.testing import CallbackFakes, ConversionError, check, run
from snake_types import Summary


def test_summarize_skips_stop_words_and_ranks(snake_callbacks: CallbackFakes) -> None:
    snake_callbacks.stop_words = ["the"]
    summary = run(quickstart.summarize, {"text": "the a b a c a b", "top": 2})
    assert summary == {"words": 6, "top_words": [("a", 3), ("b", 2)]}
    assert snake_callbacks.calls == [("stop_words", "en")]


def test_summarize_rejects_empty_text(snake_callbacks: CallbackFakes) -> None:
    snake_callbacks.stop_words = []
    with pytest.raises(ValueError, match="text is empty"):
        run(quickstart.summarize, {"text": "  ", "top": 1})


def test_a_failing_callback_reaches_the_handler(snake_callbacks: CallbackFakes) -> None:
    snake_callbacks.stop_words = snake.CallbackError("no stop words for en")
    with pytest.raises(snake.CallbackError, match="no stop words"):
        run(quickstart.summarize, {"text": "a b", "top": 1})


def test_the_request_is_checked_as_rust_declares_it() -> None:
    with pytest.raises(ConversionError, match=r"^request\.top: integer -1 out of range for u32$"):
        run(quickstart.summarize, {"text": "a", "top": -1})


def test_tokenize_and_running_count() -> None:
    assert run(quickstart.tokenize, "Hello, World!") == ["hello", "world"]
    assert run(quickstart.running_count, "a b\nc\n\nd e f") == [2, 3, 3, 6]


def test_a_reply_of_the_wrong_shape_fails_as_in_the_child() -> None:
    with pytest.raises(ConversionError) as error:
        check({"words": 2, "top_words": [("a", "2")]}, Summary, root="reply")
    assert str(error.value) == "reply.top_words[0][1]: expected int, got str"
