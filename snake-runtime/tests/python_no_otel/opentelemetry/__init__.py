"""Put first on sys.path, this makes the `opentelemetry` package look uninstalled."""

raise ImportError("opentelemetry is not installed (masked by the test)")
