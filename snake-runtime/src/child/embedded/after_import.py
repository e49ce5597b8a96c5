"""Runs a function right after a module is first imported (`snake-runtime/src/child/logs.rs`).

The child attaches its `logging` handler only once something imports `logging`: a child that
never logs does not import it (with `re`, `traceback` and `threading`, 10 to 20 ms of its start).

A finder at the front of `sys.meta_path` waits for the module's name, leaves `sys.meta_path` at
once, finds the module's spec through the finders after it, and wraps the spec's loader: the
wrapper puts the module's own loader back, executes the module, then calls the function, before
the statement that imported it goes on.
"""

from __future__ import annotations

import sys

# Not `typing.TYPE_CHECKING`: `typing` is not imported at runtime.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType
else:
    # A loader is any object with `exec_module`; `importlib.abc` would import `pathlib`.
    Loader = object


class _ThenLoader(Loader):
    """The module's own loader, then the function."""

    def __init__(self, loader: Loader, then: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._then = then

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its own loader: nothing after the import sees this wrapper.
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        try:
            self._then(module)
        except Exception as err:  # noqa: BLE001 - the import itself succeeded and must not fail
            sys.stderr.write(f"snake child: after importing {module.__name__}: {err!r}\n")


class _AfterImport:
    """A `sys.meta_path` finder that sees one module's first import, then leaves."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self._name = name
        self._then = then

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self._name:
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(fullname, path, target) if find is not None else None
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _ThenLoader(spec.loader, self._then)
            return spec
        return None


def after_import(name: str, then: Callable[[ModuleType], None]) -> None:
    """Calls `then(module)` once `name` is imported: now if it already is."""
    module = sys.modules.get(name)
    if module is not None:
        then(module)
    else:
        sys.meta_path.insert(0, _AfterImport(name, then))
