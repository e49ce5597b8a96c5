"""The `service` example's Python peer: the same model behind FastAPI, served by uvicorn.

    python3 examples/python/service_fastapi.py --addr 127.0.0.1:8001 --workers 2

It is what a Python team would deploy instead of the snake service: uvicorn on its production
stack (httptools, uvloop; `uvicorn[standard]`) with one worker process per core, each training the model of `digits_service` (same data, same split) at startup,
plain `def` endpoints (FastAPI runs them on its thread pool). The endpoints and JSON shapes are the
snake service's: `POST /predict`, `POST /predict/stream`, `GET /health`, `GET /metrics` (per
worker process: uvicorn's workers share nothing). It prints `listening on http://ADDR` once bound;
the service benchmark (`examples/benches/service.rs`) drives both.
"""

import argparse
import itertools
import json
import os
from collections.abc import AsyncGenerator, Iterator
from contextlib import asynccontextmanager

# One process per core already: BLAS and OpenMP threads inside each would only contend. Set before
# numpy loads (uvicorn's workers import this module afresh and inherit the environment).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from uvicorn.supervisors import Multiprocess  # noqa: E402

import digits_service  # noqa: E402

MAX_BATCH = 1024


class DigitBatch(BaseModel):
    """A batch of 8x8 digit images, each 64 grey levels from 0 to 16."""

    images: list[list[float]]


class _State:
    model: digits_service.Classifier | None = None
    calls = 0
    errors = 0


_state = _State()


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncGenerator[None, None]:
    _state.model = digits_service.train_model()
    yield


app = FastAPI(lifespan=_lifespan)


def _error(status: int, message: str, kind: str, type_name: str | None = None) -> JSONResponse:
    body = {"error": message, "kind": kind}
    if type_name is not None:
        body["type"] = type_name
    return JSONResponse(body, status_code=status)


@app.exception_handler(RequestValidationError)
async def _bad_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    return _error(400, str(error.errors()), "bad_request")


def _shape_error(images: list[list[float]]) -> JSONResponse | None:
    if not images:
        return _error(400, "`images` is empty", "bad_request")
    if len(images) > MAX_BATCH:
        return _error(400, f"{len(images)} images in one request; at most {MAX_BATCH}", "bad_request")
    for index, image in enumerate(images):
        if len(image) != digits_service.PIXELS:
            message = f"images[{index}] has {len(image)} values, expected {digits_service.PIXELS} (8x8 grey levels)"
            return _error(400, message, "bad_request")
    return None


def _model() -> digits_service.Classifier:
    if _state.model is None:
        raise RuntimeError("the model is not trained yet")
    return _state.model


@app.post("/predict")
def predict(batch: DigitBatch) -> JSONResponse:
    refused = _shape_error(batch.images)
    if refused is not None:
        return refused
    _state.calls += 1
    try:
        return JSONResponse(digits_service.classify(_model(), batch.images))
    except ValueError as error:
        _state.errors += 1
        return _error(500, str(error), "exception", "ValueError")


@app.post("/predict/stream", response_model=None)
def predict_stream(batch: DigitBatch) -> JSONResponse | StreamingResponse:
    refused = _shape_error(batch.images)
    if refused is not None:
        return refused
    _state.calls += 1
    items = digits_service.classify_stream(_model(), batch.images)
    try:
        first = next(items)
    except ValueError as error:
        _state.errors += 1
        return _error(500, str(error), "exception", "ValueError")

    def lines() -> Iterator[bytes]:
        for item in itertools.chain([first], items):
            yield json.dumps(item).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@app.get("/health")
def health() -> JSONResponse:
    ready = _state.model is not None
    body = {"status": "ready" if ready else "unavailable", "pid": os.getpid()}
    return JSONResponse(body, status_code=200 if ready else 503)


@app.get("/metrics")
def metrics() -> PlainTextResponse:
    pid = os.getpid()
    text = (
        "# TYPE fastapi_calls_total counter\n"
        f'fastapi_calls_total{{pid="{pid}"}} {_state.calls}\n'
        "# TYPE fastapi_call_errors_total counter\n"
        f'fastapi_call_errors_total{{pid="{pid}"}} {_state.errors}\n'
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addr", default="127.0.0.1:8001", help="IP:PORT to listen on (port 0 picks one)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes")
    args = parser.parse_args()
    host, _, port = str(args.addr).rpartition(":")
    config = uvicorn.Config(
        "service_fastapi:app",
        host=host,
        port=int(port),
        workers=args.workers,
        # Named, not "auto": uvicorn's fallback (h11, asyncio) answers a kept-alive connection ~40 ms late.
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
    )
    # What `uvicorn.run` does, with the socket bound first so the address can be printed.
    sock = config.bind_socket()
    print(f"listening on http://{host}:{sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(config)
    if config.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])


if __name__ == "__main__":
    main()
