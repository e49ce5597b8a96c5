"""The service's handlers, unit-tested without Rust through `snake.testing`.

`run` calls each handler as a worker of the pool would, checking the request and the reply
against the Rust declarations of `DigitsModel` (from `snake_schema.json`); `train` stands in for
the pool's warmup.
"""

from collections.abc import Iterator

import pytest

import digits_service
from snake.testing import ConversionError, check, run
from snake_types import Predictions


@pytest.fixture(scope="module")
def held_out() -> Iterator[tuple[list[list[float]], list[int]]]:
    digits_service.train()
    yield digits_service.held_out()


def test_predict_classifies_the_held_out_digits(held_out: tuple[list[list[float]], list[int]]) -> None:
    images, truth = held_out
    assert len(images) == 1797 - digits_service.TRAIN_SAMPLES
    reply = run(digits_service.predict, {"images": images})
    correct = sum(label == true for label, true in zip(reply["labels"], truth, strict=True))
    assert correct / len(truth) > 0.9
    assert all(0.1 <= p <= 1.0 for p in reply["probabilities"])


def test_predict_stream_yields_each_image_in_order_with_the_batch_labels(
    held_out: tuple[list[list[float]], list[int]],
) -> None:
    images = held_out[0][:20]
    items = run(digits_service.predict_stream, {"images": images})
    assert [item["index"] for item in items] == list(range(20))
    assert [item["label"] for item in items] == run(digits_service.predict, {"images": images})["labels"]


def test_pixels_out_of_range_are_refused_by_the_model(held_out: tuple[list[list[float]], list[int]]) -> None:
    image = list(held_out[0][0])
    image[3] = 17.0
    with pytest.raises(ValueError, match=r"^image 1, pixel 3: 17.0 is outside 0..=16$"):
        run(digits_service.predict, {"images": [held_out[0][1], image]})
    with pytest.raises(ValueError, match=r"^image 0 has 3 pixels, expected 64$"):
        run(digits_service.predict, {"images": [[0.0, 1.0, 2.0]]})


def test_calls_before_the_warmup_name_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digits_service, "_model", None)
    with pytest.raises(RuntimeError, match="warmup"):
        run(digits_service.predict, {"images": [[0.0] * 64]})


def test_requests_and_replies_are_checked_as_the_worker_checks_them() -> None:
    with pytest.raises(ConversionError, match=r"^request\.images\[0\]\[1\]: expected float, got str$"):
        run(digits_service.predict, {"images": [[0.0, "1"]]})
    with pytest.raises(ConversionError, match=r"^reply\.labels\[0\]: integer 300 out of range for u8$"):
        check({"labels": [300], "probabilities": [0.5]}, Predictions, root="reply")
