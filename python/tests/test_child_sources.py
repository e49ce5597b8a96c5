"""The Python the child process embeds (`snake-runtime/src/child/embedded/`), loaded from its files
and driven with fakes of the objects the Rust side hands it."""

import asyncio
import importlib.util
import logging
import sys
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterator
from contextvars import Token
from pathlib import Path
from types import ModuleType
from typing import Any, TypedDict, TypeVar

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

EMBEDDED = Path(__file__).parents[2] / "snake-runtime/src/child/embedded"


def load(name: str) -> ModuleType:
    """Executes `EMBEDDED/<name>.py` as a fresh module, as the child does at start."""
    spec = importlib.util.spec_from_file_location(f"_snake_{name}", EMBEDDED / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The stream driver ---------------------------------------------------------------------------


class FakeSink:
    """What `StreamSink` does, recorded: credit taken from a counter, waits on an `asyncio.Event`."""

    def __init__(self, credit: int, accept: int | None = None) -> None:
        self.credit = credit
        self.event = asyncio.Event()
        self.refused = 0
        self.waits = 0
        self.items: list[object] = []
        self.ended = 0
        self.failures: list[BaseException] = []
        # How many items `item()` accepts before answering `False` (a conversion error).
        self.accept = accept

    def grant(self, items: int) -> None:
        self.credit += items
        self.event.set()

    def take(self) -> bool:
        if self.credit == 0:
            self.refused += 1
            return False
        self.credit -= 1
        return True

    def wait(self) -> Awaitable[object]:
        self.waits += 1
        self.event.clear()
        return self.event.wait()

    def item(self, item: object) -> bool:
        if self.accept is not None and len(self.items) >= self.accept:
            return False
        self.items.append(item)
        return True

    def end(self) -> None:
        self.ended += 1

    def fail(self, exc: BaseException) -> None:
        self.failures.append(exc)


class Numbers:
    """An async generator of `0..count` that records how far it was pulled and whether it was closed."""

    def __init__(self, count: int, raises: BaseException | None = None, pause: float = 0) -> None:
        self.count = count
        self.raises = raises
        self.pause = pause
        self.pulled = 0
        self.closed = False
        # Held here so that only the driver closes it, not the loop's finalizer when it is collected.
        self.generator = self._run()

    async def _run(self) -> AsyncGenerator[object, None]:
        try:
            for n in range(self.count):
                self.pulled += 1
                if self.pause:
                    await asyncio.sleep(self.pause)
                yield n
            if self.raises is not None:
                raise self.raises
        finally:
            self.closed = True


Drive = Callable[[AsyncGenerator[object, None], FakeSink], Coroutine[Any, Any, None]]


def driver() -> Drive:
    drive: Drive = load("stream_driver").drive
    return drive


async def settle() -> None:
    """Lets every ready task run until each waits on something the test controls."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_stream_driver_pulls_only_while_credit_lasts() -> None:
    drive = driver()

    async def scenario() -> None:
        numbers = Numbers(5)
        sink = FakeSink(credit=2)
        task = asyncio.create_task(drive(numbers.generator, sink))
        await settle()
        assert (numbers.pulled, sink.items, sink.waits) == (2, [0, 1], 1)
        assert sink.refused == 1 and not task.done()

        sink.grant(1)
        await settle()
        assert (numbers.pulled, sink.items, sink.waits) == (3, [0, 1, 2], 2)

        sink.grant(10)
        await asyncio.wait_for(task, 1)
        assert sink.items == [0, 1, 2, 3, 4]
        assert (sink.ended, sink.failures, numbers.closed) == (1, [], True)
        # One unit of credit went to the pull that found the generator exhausted.
        assert sink.credit == 10 - 2 - 1

    asyncio.run(scenario())


def test_stream_driver_reports_an_exception_once_and_closes() -> None:
    drive = driver()
    boom = ValueError("boom")

    async def scenario() -> None:
        numbers = Numbers(2, raises=boom)
        sink = FakeSink(credit=10)
        await asyncio.wait_for(drive(numbers.generator, sink), 1)
        assert sink.items == [0, 1]
        assert sink.failures == [boom] and sink.ended == 0
        assert numbers.closed

    asyncio.run(scenario())


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt()], ids=["SystemExit", "KeyboardInterrupt"])
def test_stream_driver_reports_base_exceptions_instead_of_raising_them(exc: BaseException) -> None:
    drive = driver()

    async def scenario() -> None:
        numbers = Numbers(1, raises=exc)
        sink = FakeSink(credit=10)
        await asyncio.wait_for(drive(numbers.generator, sink), 1)
        assert sink.failures == [exc] and sink.items == [0] and sink.ended == 0

    asyncio.run(scenario())


def test_stream_driver_stops_and_closes_when_an_item_cannot_be_sent() -> None:
    drive = driver()

    async def scenario() -> None:
        numbers = Numbers(5)
        sink = FakeSink(credit=10, accept=1)
        await asyncio.wait_for(drive(numbers.generator, sink), 1)
        assert sink.items == [0]
        assert numbers.pulled == 2 and numbers.closed
        assert (sink.ended, sink.failures) == (0, [])

    asyncio.run(scenario())


def test_stream_driver_cancelled_while_out_of_credit_closes_the_generator() -> None:
    drive = driver()

    async def scenario() -> None:
        numbers = Numbers(5)
        sink = FakeSink(credit=1)
        task = asyncio.create_task(drive(numbers.generator, sink))
        await settle()
        assert (numbers.pulled, sink.waits, numbers.closed) == (1, 1, False)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        assert numbers.closed and numbers.pulled == 1
        assert (sink.ended, sink.failures) == (0, [])

    asyncio.run(scenario())


def test_stream_driver_cancelled_inside_the_generator_is_not_reported_as_a_failure() -> None:
    drive = driver()

    async def scenario() -> None:
        numbers = Numbers(5, pause=60)
        sink = FakeSink(credit=10)
        task = asyncio.create_task(drive(numbers.generator, sink))
        await settle()
        assert (numbers.pulled, sink.items) == (1, [])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled() and numbers.closed
        assert (sink.ended, sink.failures) == (0, [])

    asyncio.run(scenario())


# The log forwarder ---------------------------------------------------------------------------


Forwarded = tuple[int, str, str, str | None, int, str | None, bool]


class Recorder:
    """Stands in for the Rust `Forwarder`: keeps the fields of every forwarded record."""

    def __init__(self) -> None:
        self.calls: list[Forwarded] = []

    def __call__(
        self,
        level: int,
        logger: str,
        message: str,
        file: str | None,
        line: int,
        exception: str | None,
        warning: bool,
        /,
    ) -> None:
        self.calls.append((level, logger, message, file, line, exception, warning))


def handler(level: int, forward: Callable[..., None]) -> logging.Handler:
    made: logging.Handler = load("log_forwarder").SnakeHandler(level, forward)
    return made


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A logger of the test's own, that lets everything through and does not pass records on to the root logger."""
    made = logging.getLogger(f"snake.tests.{request.node.name}")
    made.setLevel(logging.DEBUG)
    made.propagate = False
    yield made
    for added in list(made.handlers):
        made.removeHandler(added)
    made.filters.clear()


def test_log_forwarder_sends_the_record_fields(logger: logging.Logger) -> None:
    recorder = Recorder()
    logger.addHandler(handler(logging.DEBUG, recorder))
    line = sys._getframe().f_lineno + 1
    logger.info("hello %s", "world")
    assert recorder.calls == [(20, logger.name, "hello world", __file__, line, None, False)]


def test_log_forwarder_drops_records_below_its_level(logger: logging.Logger) -> None:
    recorder = Recorder()
    logger.addHandler(handler(logging.WARNING, recorder))
    logger.info("quiet")
    logger.error("loud")
    assert [(level, message) for level, _, message, *_ in recorder.calls] == [(40, "loud")]


def test_log_forwarder_formats_the_exception_without_caching_it() -> None:
    recorder = Recorder()
    try:
        raise ValueError("bad input")
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "it failed", None, sys.exc_info())
    handler(logging.DEBUG, recorder).handle(record)
    [(level, _, message, _, _, exception, warning)] = recorder.calls
    assert (level, message, warning) == (40, "it failed", False)
    assert exception is not None
    assert exception.startswith("Traceback (most recent call last):")
    assert exception.endswith("ValueError: bad input")
    # Left for the user's own formatters, which may format it differently.
    assert record.exc_text is None


def test_log_forwarder_uses_exc_text_when_there_is_no_exc_info() -> None:
    recorder = Recorder()
    record = logging.makeLogRecord({"name": "remote", "levelno": 40, "msg": "relayed", "exc_text": "Traceback: x"})
    handler(logging.DEBUG, recorder).handle(record)
    assert [call[5] for call in recorder.calls] == ["Traceback: x"]


def test_log_forwarder_appends_the_stack_to_the_exception(logger: logging.Logger) -> None:
    recorder = Recorder()
    logger.addHandler(handler(logging.DEBUG, recorder))
    logger.info("where", stack_info=True)
    try:
        raise KeyError("k")
    except KeyError:
        logger.error("both", exc_info=True, stack_info=True)
    only_stack, both = (call[5] for call in recorder.calls)
    assert only_stack is not None and only_stack.startswith("Stack (most recent call last):")
    assert "test_log_forwarder_appends_the_stack_to_the_exception" in only_stack
    assert both is not None
    traceback, stack = both.split("\nStack (most recent call last):")
    assert traceback.startswith("Traceback (most recent call last):") and traceback.endswith("KeyError: 'k'")
    assert "test_log_forwarder_appends_the_stack_to_the_exception" in stack


def test_log_forwarder_points_a_warning_at_the_code_that_warned() -> None:
    recorder = Recorder()
    forwarding = handler(logging.DEBUG, recorder)
    py_warnings = logging.getLogger("py.warnings")
    propagate = py_warnings.propagate
    py_warnings.addHandler(forwarding)
    py_warnings.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            logging.captureWarnings(True)
            line = sys._getframe().f_lineno + 1
            warnings.warn("careful now", DeprecationWarning)
    finally:
        logging.captureWarnings(False)
        py_warnings.removeHandler(forwarding)
        py_warnings.propagate = propagate
    [(level, name, message, file, at, exception, warning)] = recorder.calls
    assert (level, name, file, at, exception, warning) == (30, "py.warnings", __file__, line, None, True)
    # The source line that `warnings` appends stays, without the trailing newline.
    assert message == 'DeprecationWarning: careful now\n  warnings.warn("careful now", DeprecationWarning)'


def test_log_forwarder_keeps_an_unrecognised_warning_message_whole() -> None:
    recorder = Recorder()
    record = logging.makeLogRecord(
        {"name": "py.warnings", "levelno": 30, "msg": "no location here\n", "pathname": "/x.py", "lineno": 7}
    )
    handler(logging.DEBUG, recorder).handle(record)
    assert recorder.calls == [(30, "py.warnings", "no location here", "/x.py", 7, None, True)]


def test_log_forwarder_reports_a_failing_forward_through_handle_error() -> None:
    def broken(*fields: object) -> None:
        raise RuntimeError("channel gone")

    failing = handler(logging.DEBUG, broken)
    handled: list[tuple[logging.LogRecord, BaseException | None]] = []
    failing.handleError = lambda record: handled.append((record, sys.exc_info()[1]))  # type: ignore[method-assign]
    record = logging.makeLogRecord({"msg": "lost"})
    failing.handle(record)
    assert len(handled) == 1
    assert handled[0][0] is record
    assert isinstance(handled[0][1], RuntimeError) and str(handled[0][1]) == "channel gone"


def test_log_forwarder_lets_recursion_errors_through() -> None:
    def recursing(*fields: object) -> None:
        raise RecursionError("deep")

    with pytest.raises(RecursionError, match="deep"):
        handler(logging.DEBUG, recursing).handle(logging.makeLogRecord({"msg": "x"}))


# The span context ----------------------------------------------------------------------------

Attach = Callable[[int, int, int], Token[otel_context.Context] | None]
Detach = Callable[[Token[otel_context.Context] | None], None]


def span_functions() -> tuple[Attach, Detach]:
    module = load("span_context")
    attach: Attach = module.attach
    detach: Detach = module.detach
    return attach, detach


def current() -> otel_trace.SpanContext:
    return otel_trace.get_current_span().get_span_context()


def test_span_context_makes_the_remote_span_current_and_restores_the_previous_one() -> None:
    attach, detach = span_functions()
    assert not current().is_valid
    outer = attach(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 1)
    assert outer is not None
    seen = current()
    assert (seen.trace_id, seen.span_id, seen.is_remote) == (0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True)
    assert seen.trace_flags.sampled

    inner = attach(0x0AF7651916CD43DD8448EB211C80319C, 0x00F067AA0BA902B7, 0)
    assert (current().span_id, current().trace_flags.sampled) == (0x00F067AA0BA902B7, False)
    detach(inner)
    assert current().span_id == 0xB7AD6B7169203331
    detach(outer)
    assert not current().is_valid


def test_span_context_without_opentelemetry_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # A `None` entry makes `import opentelemetry` raise ImportError, as if it were not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    attach, detach = span_functions()
    before = otel_context.get_current()
    assert attach(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 1) is None
    assert otel_context.get_current() is before
    detach(None)
    assert otel_context.get_current() is before


# The annotation check --------------------------------------------------------------------------


class Summarize(TypedDict):
    text: str


class Tokenize(TypedDict):
    text: str


T = TypeVar("T")


def summarize(request: Summarize) -> Tokenize:
    return {"text": request["text"]}


def tokenize(request: "snake_types.Tokenize") -> "list[Summarize] | None":  # type: ignore[name-defined]  # noqa: F821
    return None


def summaries(request: Summarize) -> Iterator[Summarize]:
    yield request


def untyped(request, *rest):  # type: ignore[no-untyped-def]
    return request


def generic(request: T) -> Any:
    return request


@pytest.mark.parametrize(
    ("function", "mode", "request_type", "reply_type", "expected"),
    [
        (summarize, "sync", "Summarize", "Tokenize", None),
        (summarize, "sync", "Tokenize", "Tokenize", ("request", "Tokenize", "Summarize")),
        (summarize, "sync", "Summarize", "Summarize", ("reply", "Summarize", "Tokenize")),
        (summarize, "sync", None, None, None),
        (tokenize, "sync", "Tokenize", "Optional[list[Summarize]]", None),
        (tokenize, "sync", "Summarize", "Optional[list[Summarize]]", ("request", "Summarize", "Tokenize")),
        (
            tokenize,
            "sync",
            "Tokenize",
            "Optional[list[Tokenize]]",
            ("reply", "Optional[list[Tokenize]]", "Optional[list[Summarize]]"),
        ),
        (summaries, "generator", "Summarize", "Summarize", None),
        (summaries, "generator", "Summarize", "Tokenize", ("reply", "Tokenize", "Summarize")),
        (untyped, "sync", "Summarize", "Tokenize", None),
        (generic, "sync", "Summarize", "Tokenize", None),
    ],
)
def test_annotation_check_fails_only_a_clear_mismatch(
    function: Callable[..., object],
    mode: str,
    request_type: str | None,
    reply_type: str | None,
    expected: tuple[str, str, str] | None,
) -> None:
    check = load("annotation_check").check
    assert check(function, mode, request_type, reply_type) == expected


def widening(request: int) -> bool:
    return bool(request)


def test_annotation_check_accepts_a_wider_request_and_a_narrower_reply() -> None:
    check = load("annotation_check").check
    assert check(widening, "sync", "bool", "int") is None
    assert check(widening, "sync", "str", "int") == ("request", "str", "int")
    assert check(widening, "sync", "int", "str") == ("reply", "str", "bool")


def test_annotation_check_parses_strings_without_evaluating_them() -> None:
    check = load("annotation_check").check
    calls: list[str] = []

    def handler(request: "__import__('os').system('false')") -> "(((":  # type: ignore[valid-type]  # noqa: F722
        calls.append("ran")
        return None

    assert check(handler, "sync", "Summarize", "Summarize") is None
    assert calls == []
