"""Raises at import an exception whose message is larger than the test's frame limit."""

raise RuntimeError("x" * 1_000_000)
