"""The Python side of the `service` example: a scikit-learn digit classifier behind HTTP.

`DigitsModel` in `examples/src/bin/service.rs` declares `predict` and `predict_stream`; the
service's pool runs `train` once in each worker before it takes calls (the builder's `warmup`).
`service_fastapi.py` serves the same model, trained the same way, for the benchmark.

scikit-learn ships no type information, so the model is reached through the `Classifier`
protocol below and everything crossing it is a typed numpy array.
"""

import importlib
from collections.abc import Iterator
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

from snake_types import DigitBatch, Prediction, Predictions

PIXELS = 64
"""An image is 8x8 grey levels, row by row."""

MAX_PIXEL = 16.0
"""Grey levels of the digits data set run from 0 to 16."""

TRAIN_SAMPLES = 1500
"""The model learns from the first 1500 of the 1797 digits; the rest are held out."""

STREAM_CHUNK = 8
"""`predict_stream` runs the model on this many images at a time and yields their results."""

Features = npt.NDArray[np.float64]


class Classifier(Protocol):
    """What the handlers use of a fitted scikit-learn classifier."""

    classes_: npt.NDArray[np.int64]

    def predict_proba(self, x: Features, /) -> Features: ...


_model: Classifier | None = None


def _digits() -> tuple[Features, npt.NDArray[np.int64]]:
    """The digits data set scikit-learn ships in its package (no download)."""
    datasets = importlib.import_module("sklearn.datasets")
    bunch = datasets.load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def train_model() -> Classifier:
    """A logistic regression fitted on the first `TRAIN_SAMPLES` digits (deterministic)."""
    linear_model = importlib.import_module("sklearn.linear_model")
    data, target = _digits()
    model = linear_model.LogisticRegression(C=3.0, max_iter=5000)
    model.fit(data[:TRAIN_SAMPLES] / MAX_PIXEL, target[:TRAIN_SAMPLES])
    return cast(Classifier, model)


def train() -> None:
    """The pool's warmup: fits the model once per worker, before its first call."""
    global _model
    _model = train_model()


def held_out() -> tuple[list[list[float]], list[int]]:
    """The digits the model never saw, with their true labels."""
    data, target = _digits()
    return data[TRAIN_SAMPLES:].tolist(), target[TRAIN_SAMPLES:].tolist()


def features(images: list[list[float]]) -> Features:
    """The model's input for a batch of images; raises `ValueError` naming a bad image."""
    if not images:
        raise ValueError("the batch is empty")
    for index, image in enumerate(images):
        if len(image) != PIXELS:
            raise ValueError(f"image {index} has {len(image)} pixels, expected {PIXELS}")
    x = np.asarray(images, dtype=np.float64)
    bad = np.argwhere(~((x >= 0.0) & (x <= MAX_PIXEL)))
    if bad.size:
        row, pixel = (int(i) for i in bad[0])
        raise ValueError(f"image {row}, pixel {pixel}: {images[row][pixel]} is outside 0..={MAX_PIXEL:g}")
    return x / MAX_PIXEL


def _fitted() -> Classifier:
    if _model is None:
        raise RuntimeError("the model is not trained: `train` runs as the pool's warmup")
    return _model


def classify(model: Classifier, images: list[list[float]]) -> Predictions:
    """Labels and their probabilities for a batch (shared with the FastAPI peer)."""
    probabilities = model.predict_proba(features(images))
    best = probabilities.argmax(axis=1)
    labels: list[int] = model.classes_[best].tolist()
    confidence: list[float] = probabilities.max(axis=1).tolist()
    return {"labels": labels, "probabilities": confidence}


def classify_stream(model: Classifier, images: list[list[float]]) -> Iterator[Prediction]:
    """One prediction per image, computed `STREAM_CHUNK` images at a time."""
    x = features(images)
    for start in range(0, len(images), STREAM_CHUNK):
        probabilities = model.predict_proba(x[start : start + STREAM_CHUNK])
        best = probabilities.argmax(axis=1)
        for offset in range(len(best)):
            yield {
                "index": start + offset,
                "label": int(model.classes_[best[offset]]),
                "probability": float(probabilities[offset, best[offset]]),
            }


def predict(request: DigitBatch, /) -> Predictions:
    """Classifies a batch of 8x8 digit images."""
    return classify(_fitted(), request["images"])


def predict_stream(request: DigitBatch, /) -> Iterator[Prediction]:
    """Classifies a batch of digit images, yielding each result as soon as its chunk is done."""
    yield from classify_stream(_fitted(), request["images"])
