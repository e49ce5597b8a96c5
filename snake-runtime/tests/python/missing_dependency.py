"""Imports a module that does not exist (an import failure inside the user's module)."""

import snake_no_such_dependency  # noqa: F401


def handler(msg):
    return msg
