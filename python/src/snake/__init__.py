"""Typing support for Python handlers run by snake.

snake runs your module inside a child process of a Rust service and calls its functions with
plain Python values (dicts, lists, str, int, float, bytes, None) converted from Rust types, and
converts what they return back to Rust types. Handlers are ordinary functions, so they can be
imported and tested without Rust.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
