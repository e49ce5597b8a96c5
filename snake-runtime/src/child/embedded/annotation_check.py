"""The child's startup check of a handler's annotations against the types Rust declares.

The parent names each declared type as the generated stubs do (`Summarize`, `list[int]`,
`Optional[Shape]`). `check` compares those names with the handler's annotations (read as
`inspect.signature(..., eval_str=False)` reads them, so a string annotation is parsed, never
evaluated) and reports only a clear mismatch of names: anything it cannot decide (no annotation,
`Any`, a `TypeVar`, a string that does not parse, an alias it cannot see through) is accepted.

It runs in every child's start, so it imports only what is cheap there: `_ast` (the node classes,
without `ast`'s own imports), and `inspect` and `typing` only for what a plain function with
plain-class or string annotations does not need.
"""

from __future__ import annotations

import _ast as ast
import builtins
import sys
import types
# Not `typing.TYPE_CHECKING`: `typing` is imported only when an annotation needs it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence


class _Node:
    """Nodes compare by kind and fields (not a dataclass: the child loads this file with no entry
    in `sys.modules`, which `dataclass` needs for string annotations)."""

    __slots__ = ()

    def key(self) -> tuple[object, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and isinstance(other, _Node) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.key()))


class Name(_Node):
    """A plain name (`Summarize`, `str`, `None`), its module prefix dropped."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def key(self) -> tuple[object, ...]:
        return (self.text,)


class Sub(_Node):
    """A subscripted form such as `list[int]`, by the final name of its origin."""

    __slots__ = ("origin", "args")

    def __init__(self, origin: str, args: tuple[Node | None, ...]) -> None:
        self.origin = origin
        self.args = args

    def key(self) -> tuple[object, ...]:
        return (self.origin, self.args)


class Lit(_Node):
    """`Literal[...]`."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[object, ...]) -> None:
        self.values = values

    def key(self) -> tuple[object, ...]:
        return tuple(repr(value) for value in self.values)


class Union(_Node):
    """`Union[...]`, `Optional[...]` or `A | B`, flattened."""

    __slots__ = ("members",)

    def __init__(self, members: tuple[Node, ...]) -> None:
        self.members = members

    def key(self) -> tuple[object, ...]:
        return self.members


Node = Name | Sub | Lit | Union

NONE = Name("None")
# Names that say nothing about the type.
UNDECIDED = frozenset({"Any", "object", "Never", "NoReturn", "..."})
# Names the stubs use for builtin types, never for an alias.
SCALARS = frozenset({"str", "int", "float", "bool", "bytes", "None"})
# Concrete containers: two different ones are a clear mismatch.
CONTAINERS = frozenset({"list", "dict", "tuple"})
# typing spellings of builtin generics.
BUILTIN_GENERICS = {"List": "list", "Dict": "dict", "Tuple": "tuple"}
# What a generator may be annotated with; the item type is the first argument.
ITERATORS = frozenset(
    {"Iterator", "Iterable", "Generator", "AsyncIterator", "AsyncIterable", "AsyncGenerator"}
)
# What a subtype may stand for where its supertype is expected (`int` where `float` is).
WIDER = {"bool": frozenset({"int", "float"}), "int": frozenset({"float"})}


def union(members: Sequence[Node | None]) -> Node | None:
    """The flattened union, or `None` when a member cannot be decided."""
    flat: list[Node] = []
    for member in members:
        if member is None:
            return None
        for inner in member.members if isinstance(member, Union) else (member,):
            if inner not in flat:
                flat.append(inner)
    return flat[0] if len(flat) == 1 else Union(tuple(flat))


def named(text: str) -> Node | None:
    if text in UNDECIDED:
        return None
    return NONE if text == "NoneType" else Name(BUILTIN_GENERICS.get(text, text))


def subscripted(origin: str, args: Sequence[Node | None]) -> Node | None:
    if origin == "Optional" and len(args) == 1:
        return union([args[0], NONE])
    if origin == "Union":
        return union(args)
    if origin == "Annotated":
        return args[0] if args else None
    return Sub(BUILTIN_GENERICS.get(origin, origin), tuple(args))


def from_text(text: str) -> Node | None:
    """Parses an annotation written as a string; `None` when it does not parse."""
    try:
        # What `ast.parse(text, mode="eval")` does.
        tree = compile(text.strip(), "<annotation>", "eval", ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError):
        return None
    return from_ast(tree.body) if isinstance(tree, ast.Expression) else None


def from_ast(expr: ast.expr) -> Node | None:
    if isinstance(expr, ast.Constant):
        if expr.value is None:
            return NONE
        if expr.value is Ellipsis:
            return Name("...")
        return from_text(expr.value) if isinstance(expr.value, str) else None
    if isinstance(expr, ast.Name):
        return named(expr.id)
    if isinstance(expr, ast.Attribute):
        return named(expr.attr)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        return union([from_ast(expr.left), from_ast(expr.right)])
    if isinstance(expr, ast.Subscript):
        origin = expr.value.attr if isinstance(expr.value, ast.Attribute) else None
        if isinstance(expr.value, ast.Name):
            origin = expr.value.id
        if origin is None:
            return None
        items = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        if origin == "Literal":
            from ast import literal_eval

            try:
                return Lit(tuple(literal_eval(item) for item in items))
            except ValueError:
                return None
        return subscripted(origin, [from_ast(item) for item in items])
    return None


def from_object(annotation: object) -> Node | None:
    """An evaluated annotation (a class, an alias, a `typing` form) as a `Node`."""
    if annotation is None or annotation is type(None):
        return NONE
    if isinstance(annotation, str):
        return from_text(annotation)
    if type(annotation) is type:
        # A plain class (`str`, a user's class): what the general path finds too, without `typing`.
        return named(annotation.__name__)
    import typing

    if isinstance(annotation, typing.ForwardRef):
        return from_text(annotation.__forward_arg__)
    if annotation is typing.Any or isinstance(annotation, typing.TypeVar):
        return None
    origin = typing.get_origin(annotation)
    if origin is not None:
        args = typing.get_args(annotation)
        if origin is typing.Union or origin is types.UnionType:
            return union([from_object(arg) for arg in args])
        if origin is typing.Literal:
            return Lit(tuple(args))
        if origin is typing.Annotated:
            return from_object(args[0]) if args else None
        name = getattr(origin, "__name__", None)
        if not isinstance(name, str):
            return None
        if not args and origin is not tuple:
            return named(name)
        return subscripted(name, [Name("...") if arg is Ellipsis else from_object(arg) for arg in args])
    name = getattr(annotation, "__name__", None)
    return named(name) if isinstance(name, str) else None


def render(node: Node | None) -> str:
    if node is None:
        return "Any"
    if isinstance(node, Name):
        return node.text
    if isinstance(node, Sub):
        return f"{node.origin}[{', '.join(render(arg) for arg in node.args) or '()'}]"
    if isinstance(node, Lit):
        values = ('"' + value + '"' if isinstance(value, str) else repr(value) for value in node.values)
        return f"Literal[{', '.join(values)}]"
    others = [member for member in node.members if member != NONE]
    if len(others) == 1 and len(node.members) == 2:
        return f"Optional[{render(others[0])}]"
    return f"Union[{', '.join(render(member) for member in node.members)}]"


_MISSING = object()


class Checker:
    """Compares one handler's annotations, looking names up where the handler can see them."""

    def __init__(self, function: object) -> None:
        self.namespaces: list[Mapping[str, object]] = []
        target = function
        if callable(function) and hasattr(function, "__wrapped__"):
            import inspect

            target = inspect.unwrap(function)
        found = getattr(target, "__globals__", None)
        if isinstance(found, dict):
            self.namespaces.append(found)
        stubs = sys.modules.get("snake_types")
        if stubs is not None:
            self.namespaces.append(vars(stubs))
        self.namespaces.append(vars(builtins))

    def lookup(self, name: str) -> object:
        if name == "None":
            return type(None)
        for namespace in self.namespaces:
            if name in namespace:
                return namespace[name]
        return _MISSING

    def same(self, declared: Node | None, annotated: Node | None, reply: bool) -> bool:
        """Whether `annotated` may stand for `declared` (`False` only for a clear mismatch)."""
        if declared is None or annotated is None:
            return True
        if isinstance(declared, Name) and isinstance(annotated, Name):
            return self.same_name(declared.text, annotated.text, reply)
        if isinstance(declared, Sub) and isinstance(annotated, Sub):
            if declared.origin != annotated.origin:
                return not (declared.origin in CONTAINERS and annotated.origin in CONTAINERS)
            if len(declared.args) != len(annotated.args):
                return True
            return all(self.same(d, a, reply) for d, a in zip(declared.args, annotated.args))
        if isinstance(declared, Lit) and isinstance(annotated, Lit):
            return set(map(repr, declared.values)) == set(map(repr, annotated.values))
        if isinstance(declared, Union) and isinstance(annotated, Union):
            declared_rest = [m for m in declared.members if m != NONE]
            annotated_rest = [m for m in annotated.members if m != NONE]
            if len(declared_rest) == len(annotated_rest) == 1 and NONE in declared.members and NONE in annotated.members:
                return self.same(declared_rest[0], annotated_rest[0], reply)
            return True
        if isinstance(declared, Name) and declared.text in SCALARS:
            # `str` declared, `list[str]` or `Literal[...]` annotated: a container is never a scalar.
            return not (isinstance(annotated, Sub) and annotated.origin in CONTAINERS)
        return True

    def same_name(self, declared: str, annotated: str, reply: bool) -> bool:
        if declared == annotated:
            return True
        narrow, wide = (annotated, declared) if reply else (declared, annotated)
        if wide in WIDER.get(narrow, frozenset()):
            return True
        if declared in SCALARS and annotated in SCALARS:
            return False
        found = self.lookup(declared)
        seen = self.lookup(annotated)
        if found is not _MISSING and seen is not _MISSING:
            try:
                if found is seen or found == seen:
                    return True
            except Exception:  # noqa: BLE001 - a foreign `__eq__` decides nothing
                return True
            # Two classes (TypedDicts, builtins) of different names: a clear mismatch; an alias
            # on either side that is not the other is left undecided.
            return not (isinstance(found, type) and isinstance(seen, type))
        if found is _MISSING and annotated in SCALARS:
            # A generated name the child cannot see may be an alias of a builtin type.
            return True
        return False


# What makes `inspect.signature` look beyond a function's code object and `__annotations__`.
_INSPECT_LOOKS_FURTHER = ("__wrapped__", "__signature__", "_partialmethod", "__partialmethod__")
_CO_VARARGS = 0x04
_EMPTY = object()


def signature_annotations(function: Callable[..., object]) -> tuple[object, object] | None:
    """The annotations of the first positional parameter (or `*args`) and of the return, as
    `inspect.signature(function, eval_str=False)` gives them (`_EMPTY` for none); `None` when
    the function has no signature. A plain function is read directly, without `inspect`."""
    if type(function) is types.FunctionType and not any(hasattr(function, name) for name in _INSPECT_LOOKS_FURTHER):
        try:
            found = function.__annotations__
        except Exception:  # noqa: BLE001 - left to `inspect`, which reports it its own way
            found = None
        if isinstance(found, dict):
            code = function.__code__
            first = None
            if code.co_argcount:
                first = code.co_varnames[0]
            elif code.co_flags & _CO_VARARGS:
                first = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
            return (found.get(first, _EMPTY) if first is not None else _EMPTY, found.get("return", _EMPTY))
    import inspect

    try:
        signature = inspect.signature(function, eval_str=False)
    except (TypeError, ValueError):
        return None
    first_annotation: object = _EMPTY
    for parameter in signature.parameters.values():
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.VAR_POSITIONAL,
        ):
            if parameter.annotation is not inspect.Parameter.empty:
                first_annotation = parameter.annotation
            break
    returned = signature.return_annotation
    return (first_annotation, _EMPTY if returned is inspect.Signature.empty else returned)


def check(
    function: Callable[..., object], mode: str, request: str | None, reply: str | None
) -> tuple[str, str, str] | None:
    """`(what, declared, annotated)` for the first clear mismatch, else `None`.

    `mode` is `sync`, `async`, `generator` or `async_generator`; `request` and `reply` are the
    declared types as the stubs name them (`reply` is the item type of a generator)."""
    found = signature_annotations(function)
    if found is None:
        return None
    first, returned = found
    checker = Checker(function)
    if request is not None and first is not _EMPTY:
        annotated = from_object(first)
        if not checker.same(from_text(request), annotated, reply=False):
            return ("request", request, render(annotated))
    if reply is not None and returned is not _EMPTY:
        annotated = from_object(returned)
        if mode in ("generator", "async_generator"):
            iterates = isinstance(annotated, Sub) and annotated.origin in ITERATORS and annotated.args
            annotated = annotated.args[0] if iterates and isinstance(annotated, Sub) else None
        elif isinstance(annotated, Sub) and annotated.origin in ("Coroutine", "Awaitable") and mode == "async":
            annotated = annotated.args[-1] if annotated.args else None
        if not checker.same(from_text(reply), annotated, reply=True):
            return ("reply", reply, render(annotated))
    return None
