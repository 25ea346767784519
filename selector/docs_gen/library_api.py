"""The library API reference (docs/library-api.md), generated from the public names'
signatures and docstrings, so the reference cannot drift from the code."""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable

from pydantic import BaseModel

__all__ = ["render_library_api"]

# reST roles (:func:`selector.x.f`, :class:`~a.B`) become the bare name in code style.
_ROLE = re.compile(r":(?:func|class|meth|data|attr|mod|exc):`~?(?:[\w.]+\.)?([\w]+)`")
_QUALIFIED = re.compile(r"\b(?:[a-z_][\w]*\.)+([A-Za-z_]\w*)")


def _markdown(doc: str) -> str:
    text = _ROLE.sub(r"`\1`", doc)
    text = text.replace("``", "`")
    # A reST literal block (a line ending in ``::``) becomes a fenced code block.
    out: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.rstrip().endswith("::"):
            out.append(line.rstrip()[:-1])
            index += 1
            block: list[str] = []
            while index < len(lines) and (not lines[index].strip() or lines[index][:1] == " "):
                block.append(lines[index])
                index += 1
            out += ["", "```", *inspect.cleandoc("\n".join(block)).splitlines(), "```", ""]
            continue
        out.append(line)
        index += 1
    return "\n".join(out).strip()


def _annotation(annotation: object) -> str:
    """An annotation as written in the code, the same on every Python version (``repr`` of
    ``Optional[X]`` changed in 3.14)."""
    if isinstance(annotation, str):
        return annotation
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(_annotation(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None:
        name = getattr(origin, "__name__", None) or _QUALIFIED.sub(r"\1", repr(origin))
        return f"{name}[{', '.join(_annotation(a) for a in args)}]" if args else name
    if isinstance(annotation, type):
        return annotation.__name__
    return _QUALIFIED.sub(r"\1", repr(annotation).replace("typing.", ""))


def _signature(obj: Callable[..., object]) -> str:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    parts = []
    star_done = False
    for param in signature.parameters.values():
        if param.name == "self":
            continue
        if param.kind is param.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        prefix = "*" if param.kind is param.VAR_POSITIONAL else ""
        prefix = "**" if param.kind is param.VAR_KEYWORD else prefix
        star_done = star_done or param.kind is param.VAR_POSITIONAL
        text = prefix + param.name
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    returns = ""
    if signature.return_annotation is not signature.empty:
        returns = f" -> {_annotation(signature.return_annotation)}"
    return f"({', '.join(parts)}){returns}"


def _fields(model: type[BaseModel]) -> list[str]:
    rows = ["| field | type | meaning |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        meaning = (info.description or "").replace("\n", " ").replace("|", "\\|")
        kind = _annotation(info.annotation).replace("|", "\\|")
        rows.append(f"| `{name}` | `{kind}` | {meaning} |")
    return rows


def _keys(typed: type) -> list[str]:
    rows = ["| key | type |", "|---|---|"]
    # As written in the source (the module postpones annotations), so an alias such as
    # ``EventCallback`` keeps its name; get_type_hints() would expand it.
    for name, annotation in typed.__annotations__.items():
        if isinstance(annotation, typing.ForwardRef):  # what TypedDict makes of the text
            written = annotation.__forward_arg__
        else:
            written = _annotation(annotation)
        rows.append(f"| `{name}` | `{written.replace('|', chr(92) + '|')}` |")
    return rows


def _methods(cls: type) -> list[str]:
    lines: list[str] = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            doc = inspect.getdoc(member) or ""
            lines.append(f"- `{name}` (property): {_markdown(doc.split(chr(10) * 2)[0])}")
        elif inspect.isfunction(member) or isinstance(member, classmethod | staticmethod):
            # Looked up on the class so a classmethod's signature drops ``cls``.
            function = getattr(cls, name)
            doc = inspect.getdoc(function) or ""
            summary = _markdown(doc.split("\n\n")[0]).replace("\n", " ")
            lines.append(f"- `{name}{_signature(function)}`: {summary}".rstrip(": "))
    return lines


def _section(name: str, obj: Callable[..., object]) -> list[str]:
    out = [f"### `{name}`", ""]
    if inspect.isclass(obj):
        bases = [
            b.__name__
            for b in obj.__bases__
            if b.__module__.startswith("selector") and not b.__name__.startswith("_")
        ]
        kind = f"class, a `{bases[0]}`" if bases else "class"
        # A model's constructor takes its fields as keywords; the fields table lists them. A
        # TypedDict is a dict of the keys its table lists.
        if typing.is_typeddict(obj):
            signature, kind = "", "a typed dict of keyword arguments"
        elif issubclass(obj, BaseModel):
            signature = "(**fields)"
        else:
            signature = _signature(obj)
        out += [f"`{name}{signature}` ({kind}, from `{obj.__module__}`)", ""]
    else:
        out += [f"`{name}{_signature(obj)}` (from `{obj.__module__}`)", ""]
    out += [_markdown(inspect.getdoc(obj) or "(no docstring)"), ""]
    if inspect.isclass(obj):
        if typing.is_typeddict(obj):
            out += ["Keys, each optional:", "", *_keys(obj), ""]
        elif issubclass(obj, BaseModel):
            out += ["Fields:", "", *_fields(obj), ""]
        methods = _methods(obj)
        if methods:
            out += ["Methods:", "", *methods, ""]
    return out


def render_library_api() -> str:
    """Markdown for every name in ``selector.__all__``: signature, docstring, and for
    models their fields, for other classes their public methods."""
    import selector

    # Every public name but ``__version__`` is a function or a class.
    functions: list[tuple[str, Callable[..., object]]] = []
    classes: list[tuple[str, type]] = []
    for name in sorted(selector.__all__):
        if name.startswith("__"):
            continue
        obj = getattr(selector, name)
        (classes if inspect.isclass(obj) else functions).append((name, obj))
    out = [
        "# Library API",
        "",
        "<!-- Generated by `selector docs build` from the docstrings of `selector.__all__`. "
        "Do not edit. -->",
        "",
        "Everything below is importable from the top-level package (`import selector`); the "
        "names load lazily, so `import selector` itself imports neither pydantic nor aiohttp. "
        "Every error raised on purpose is a `SelectorError` carrying located `Problem`s. "
        f"`selector.__version__` is the tool version ({selector.__version__}).",
        "",
        "```python",
        "import selector",
        "",
        'profile = selector.load_profile("profiles/chat.yaml")',
        "rec = selector.recommend(profile)          # pure: no I/O, no clock",
        "print(rec.protocol, rec.confidence)",
        "print(selector.render_adr(profile, rec))   # a MADR decision record",
        "```",
        "",
        "## Functions",
        "",
    ]
    for name, obj in functions:
        out += _section(name, obj)
    out += ["## Classes", ""]
    for name, obj in classes:
        out += _section(name, obj)
    return "\n".join(out).rstrip("\n") + "\n"
