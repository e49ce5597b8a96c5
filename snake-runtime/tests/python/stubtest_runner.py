"""Runs `mypy.stubtest` inside a real child: the injected `snake` and `kameo` modules against the
stubs shipped in `python/src`."""

import contextlib
import io


def run_stubtest(msg):
    from mypy import stubtest

    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            code = stubtest.test_stubs(stubtest.parse_options(msg["modules"]))
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 2
    return {"code": code, "output": output.getvalue()}
