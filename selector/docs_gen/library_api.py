"""The library API reference (docs/library-api.md), generated from the source of the modules
that define the public names, so the reference cannot drift from the code.

The source is read, not imported (``ast``, as sphinx-autoapi and griffe do): importing the
runtime's modules would import aiohttp, and a command that opens no connection must not
(``selector docs build`` is one). Signatures are rendered as written in the source, with a
default that names a module-level literal shown as its value; a model field's type has the
project's type aliases (``ClientKind``) spelled out, since the reader needs their values.
"""

from __future__ import annotations

import ast
import inspect
import operator
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["reference_sections", "render_library_api"]

# reST roles (:func:`selector.x.f`, :class:`~a.B`) become the bare name in code style.
_ROLE = re.compile(r":(?:func|class|meth|data|attr|mod|exc):`~?(?:[\w.]+\.)?([\w]+)`")
#: The folder holding the ``selector`` package's modules.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_Definition = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef | ast.Assign | ast.AnnAssign


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


_ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.LShift: operator.lshift,
}


def _fold(expr: ast.expr) -> object | None:
    """The value of a literal, or of ``+ - * <<`` on number literals; None for anything else."""
    if isinstance(expr, ast.BinOp) and type(expr.op) in _ARITHMETIC:
        left, right = _fold(expr.left), _fold(expr.right)
        if isinstance(left, int | float) and isinstance(right, int | float):
            result: object = _ARITHMETIC[type(expr.op)](left, right)
            return result
        return None
    try:
        value: object = ast.literal_eval(expr)
    except ValueError:
        return None
    return value


@dataclass(frozen=True)
class _Module:
    """One module's top-level definitions and the names it imports from elsewhere."""

    name: str
    definitions: dict[str, _Definition]
    imported: dict[str, tuple[str, str]]  # local name -> (module, name there)


@dataclass(frozen=True)
class _Found:
    """A name defined in the package: the module and the statement that defines it."""

    module: _Module
    node: _Definition


class _Source:
    """The package's modules, parsed on demand, and name resolution across them."""

    def __init__(self, package_dir: Path, package: str) -> None:
        self._package_dir = package_dir
        self._package = package
        self._modules: dict[str, _Module | None] = {}

    def module(self, name: str) -> _Module | None:
        """The parsed module ``name`` of the package; None for any other module."""
        if name not in self._modules:
            self._modules[name] = self._parse(name)
        return self._modules[name]

    def _parse(self, name: str) -> _Module | None:
        head, _, rest = name.partition(".")
        if head != self._package:
            return None
        base = self._package_dir.joinpath(*rest.split(".")) if rest else self._package_dir
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        definitions: dict[str, _Definition] = {}
        imported: dict[str, tuple[str, str]] = {}
        for node in tree.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                definitions[node.name] = node
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    definitions[target.id] = node
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                definitions[node.target.id] = node
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    imported[alias.asname or alias.name] = (node.module, alias.name)
        return _Module(name, definitions, imported)

    def find(self, module: _Module, name: str) -> _Found | str:
        """Where ``name``, as ``module`` sees it, is defined: in the package, or the dotted
        name of something outside it (``pydantic.BaseModel``)."""
        seen = 0
        while seen < 50:  # an import chain is short; the bound only guards against a loop
            seen += 1
            node = module.definitions.get(name)
            if node is not None:
                return _Found(module, node)
            if name not in module.imported:
                return name
            source_module, source_name = module.imported[name]
            found = self.module(source_module)
            if found is None:
                return f"{source_module}.{source_name}"
            module, name = found, source_name
        return name

    def bases(self, found: _Found) -> list[_Found | str]:
        """The class's bases, then theirs, depth first: package classes and outside names."""
        assert isinstance(found.node, ast.ClassDef)
        out: list[_Found | str] = []
        for base in found.node.bases:
            if isinstance(base, ast.Name):
                resolved = self.find(found.module, base.id)
            else:
                resolved = ast.unparse(base)
            out.append(resolved)
            if isinstance(resolved, _Found) and isinstance(resolved.node, ast.ClassDef):
                out += self.bases(resolved)
        return out

    def literal(self, module: _Module, expr: ast.expr) -> str:
        """A default as a reader wants it: the value of a literal or of arithmetic on numbers
        (``64 * 1024``), also when a module-level name holds it; otherwise as written."""
        value: ast.expr | None = expr
        if isinstance(expr, ast.Name):
            found = self.find(module, expr.id)
            constant = found.node if isinstance(found, _Found) else None
            value = constant.value if isinstance(constant, ast.Assign | ast.AnnAssign) else None
        folded = _fold(value) if value is not None else None
        return ast.unparse(expr) if folded is None else repr(folded)

    def expand_aliases(self, module: _Module, expr: ast.expr) -> str:
        """A type as written, with the package's type aliases replaced by what they name."""
        source = self

        class Expand(ast.NodeTransformer):
            def __init__(self, module: _Module) -> None:
                self.module = module

            def visit_Name(self, node: ast.Name) -> ast.expr:
                found = source.find(self.module, node.id)
                if isinstance(found, _Found) and isinstance(found.node, ast.Assign):
                    expanded: ast.expr = Expand(found.module).visit(_copy(found.node.value))
                    return expanded
                return node

        return ast.unparse(Expand(module).visit(_copy(expr)))


def _copy(expr: ast.expr) -> ast.expr:
    """A fresh tree of ``expr``: a transformer edits in place, and the parsed modules are kept."""
    return ast.parse(ast.unparse(expr), mode="eval").body


def _docstring(source: _Source, found: _Found) -> str:
    """The definition's docstring, or (a class) the nearest documented base's, as
    ``inspect.getdoc`` does."""
    node = found.node
    if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return ""
    doc = ast.get_docstring(node)
    if doc is None and isinstance(node, ast.ClassDef):
        for base in source.bases(found):
            if isinstance(base, _Found) and isinstance(base.node, ast.ClassDef):
                doc = ast.get_docstring(base.node)
                if doc is not None:
                    break
    return doc or ""


def _decorators(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.add(ast.unparse(target).rsplit(".", 1)[-1])
    return names


def _parameter(source: _Source, module: _Module, arg: ast.arg, default: ast.expr | None) -> str:
    text = arg.arg
    if arg.annotation is not None:
        text += f": {ast.unparse(arg.annotation)}"
    if default is not None:
        text += f" = {source.literal(module, default)}"
    return text


def _signature(
    source: _Source, module: _Module, function: ast.FunctionDef | ast.AsyncFunctionDef
) -> str:
    """``(parameters) -> returns`` as written, without ``self``/``cls`` for a method."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    pairs = list(zip(positional, [*defaults, *args.defaults], strict=True))
    if pairs and pairs[0][0].arg in ("self", "cls"):
        pairs = pairs[1:]
    parts = [_parameter(source, module, arg, default) for arg, default in pairs]
    if args.vararg is not None:
        parts.append("*" + _parameter(source, module, args.vararg, None))
    elif args.kwonlyargs:
        parts.append("*")
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        parts.append(_parameter(source, module, arg, kw_default))
    if args.kwarg is not None:
        parts.append("**" + _parameter(source, module, args.kwarg, None))
    returns = f" -> {ast.unparse(function.returns)}" if function.returns is not None else ""
    return f"({', '.join(parts)}){returns}"


def _annotated(body: list[ast.stmt], *, private: bool = False) -> list[ast.AnnAssign]:
    """A class body's annotated names but class variables; names with a leading underscore
    only when ``private`` (a dataclass takes them as arguments, a model does not)."""
    return [
        statement
        for statement in body
        if isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and (private or not statement.target.id.startswith("_"))
        and not ast.unparse(statement.annotation).startswith(("ClassVar", "typing.ClassVar"))
    ]


def _keyword(call: ast.expr | None, name: str) -> ast.expr | None:
    if isinstance(call, ast.Call):
        for keyword in call.keywords:
            if keyword.arg == name:
                return keyword.value
    return None


def _dataclass_signature(source: _Source, found: _Found, lineage: list[_Found]) -> str:
    """The ``__init__`` a dataclass generates: its fields (a base's first) in order."""
    required: list[str] = []
    keyword_only: list[str] = []
    for cls in [*reversed(lineage), found]:
        assert isinstance(cls.node, ast.ClassDef)
        decorator = next(
            (d for d in cls.node.decorator_list if "dataclass" in ast.unparse(d)), None
        )
        all_keyword = isinstance(decorator, ast.Call) and any(
            k.arg == "kw_only" and ast.unparse(k.value) == "True" for k in decorator.keywords
        )
        for statement in _annotated(cls.node.body, private=True):
            assert isinstance(statement.target, ast.Name)
            annotation = ast.unparse(statement.annotation)
            if annotation.endswith("KW_ONLY"):
                all_keyword = True
                continue
            text = f"{statement.target.id}: {annotation}"
            value = statement.value
            if isinstance(value, ast.Call) and ast.unparse(value.func).endswith("field"):
                if ast.unparse(_keyword(value, "init") or ast.Constant(True)) == "False":
                    continue
                default = _keyword(value, "default")
                if default is not None:
                    text += f" = {source.literal(cls.module, default)}"
                elif _keyword(value, "default_factory") is not None:
                    text += " = <factory>"
            elif value is not None:
                text += f" = {source.literal(cls.module, value)}"
            (keyword_only if all_keyword else required).append(text)
    parts = [*required, *(["*", *keyword_only] if keyword_only else [])]
    return f"({', '.join(parts)}) -> None"


def _fields(source: _Source, lineage: list[_Found], found: _Found) -> list[str]:
    """A model's fields, a base's first (as pydantic orders them), with their descriptions."""
    fields: dict[str, tuple[str, str]] = {}
    for cls in [*reversed(lineage), found]:
        assert isinstance(cls.node, ast.ClassDef)
        for statement in _annotated(cls.node.body):
            assert isinstance(statement.target, ast.Name)
            kind = source.expand_aliases(cls.module, statement.annotation)
            description = _keyword(statement.value, "description")
            try:
                meaning = str(ast.literal_eval(description)) if description is not None else ""
            except ValueError:
                meaning = ast.unparse(description) if description is not None else ""
            fields[statement.target.id] = (kind, meaning)
    rows = ["| field | type | meaning |", "|---|---|---|"]
    for name, (kind, meaning) in fields.items():
        meaning = meaning.replace("\n", " ").replace("|", "\\|")
        rows.append(f"| `{name}` | `{kind.replace('|', chr(92) + '|')}` | {meaning} |")
    return rows


def _keys(found: _Found) -> list[str]:
    """A typed dict's keys, their types as written (an alias such as ``EventCallback`` keeps
    its name)."""
    assert isinstance(found.node, ast.ClassDef)
    rows = ["| key | type |", "|---|---|"]
    for statement in _annotated(found.node.body):
        assert isinstance(statement.target, ast.Name)
        written = ast.unparse(statement.annotation).replace("|", chr(92) + "|")
        rows.append(f"| `{statement.target.id}` | `{written}` |")
    return rows


def _methods(source: _Source, found: _Found) -> list[str]:
    """The class's own public methods and properties, each with its docstring's summary."""
    assert isinstance(found.node, ast.ClassDef)
    lines: list[str] = []
    for statement in found.node.body:
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if statement.name.startswith("_"):
            continue
        decorators = _decorators(statement)
        summary = _markdown((ast.get_docstring(statement) or "").split("\n\n")[0])
        if decorators & {"property", "cached_property"}:
            lines.append(f"- `{statement.name}` (property): {summary}")
        elif "setter" not in decorators:
            signature = _signature(source, found.module, statement)
            line = f"- `{statement.name}{signature}`: {summary.replace(chr(10), ' ')}"
            lines.append(line.rstrip(": "))
    return lines


def _class_section(source: _Source, name: str, found: _Found) -> list[str]:
    assert isinstance(found.node, ast.ClassDef)
    ancestry = source.bases(found)
    outside = {base.rsplit(".", 1)[-1] for base in ancestry if isinstance(base, str)}
    lineage = [
        base
        for base in ancestry
        if isinstance(base, _Found) and isinstance(base.node, ast.ClassDef)
    ]
    named_bases = [
        base.node.name
        for base in (
            source.find(found.module, b.id) for b in found.node.bases if isinstance(b, ast.Name)
        )
        if isinstance(base, _Found)
        and isinstance(base.node, ast.ClassDef)
        and not base.node.name.startswith("_")
    ]
    kind = f"class, a `{named_bases[0]}`" if named_bases else "class"
    # A model's constructor takes its fields as keywords; the fields table lists them. A
    # typed dict is a dict of the keys its table lists.
    if "TypedDict" in outside:
        signature, kind = "", "a typed dict of keyword arguments"
    elif "BaseModel" in outside:
        signature = "(**fields)"
    elif "dataclass" in _decorators(found.node):
        signature = _dataclass_signature(source, found, lineage)
    else:
        # The nearest ``__init__`` in the package; a class with none takes what its
        # outside base (an exception class, say) takes.
        signature = "(...)"
        for cls in [found, *lineage]:
            assert isinstance(cls.node, ast.ClassDef)
            init = next(
                (
                    statement
                    for statement in cls.node.body
                    if isinstance(statement, ast.FunctionDef) and statement.name == "__init__"
                ),
                None,
            )
            if init is not None:
                signature = _signature(source, cls.module, init)
                break
    out = [f"### `{name}`", "", f"`{name}{signature}` ({kind}, from `{found.module.name}`)", ""]
    out += [_markdown(_docstring(source, found) or "(no docstring)"), ""]
    if "TypedDict" in outside:
        out += ["Keys, each optional:", "", *_keys(found), ""]
    elif "BaseModel" in outside:
        out += ["Fields:", "", *_fields(source, lineage, found), ""]
    methods = _methods(source, found)
    if methods:
        out += ["Methods:", "", *methods, ""]
    return out


def _function_section(source: _Source, name: str, found: _Found) -> list[str]:
    assert isinstance(found.node, ast.FunctionDef | ast.AsyncFunctionDef)
    signature = _signature(source, found.module, found.node)
    out = [f"### `{name}`", "", f"`{name}{signature}` (from `{found.module.name}`)", ""]
    return [*out, _markdown(_docstring(source, found) or "(no docstring)"), ""]


def reference_sections(exports: dict[str, str], package_dir: Path) -> tuple[list[str], list[str]]:
    """The reference's lines for the functions and for the classes among ``exports`` (public
    name -> module defining it), read from the source of the package in ``package_dir``
    (the package's name is the folder's), each part sorted by name."""
    source = _Source(package_dir, package_dir.name)
    functions: list[str] = []
    classes: list[str] = []
    for name, module_name in sorted(exports.items()):
        module = source.module(module_name)
        if module is None:
            raise ValueError(f"{name}: {module_name} is not a module of {package_dir.name}")
        found = source.find(module, name)
        if not isinstance(found, _Found):
            raise ValueError(f"{name} is not defined in {module_name}")
        if isinstance(found.node, ast.ClassDef):
            classes += _class_section(source, name, found)
        elif isinstance(found.node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions += _function_section(source, name, found)
        else:
            raise ValueError(f"{name} in {module_name} is neither a function nor a class")
    return functions, classes


def render_library_api() -> str:
    """Markdown for every name in ``selector.__all__``: signature, docstring, and for
    models their fields, for other classes their public methods."""
    import selector

    exports = {
        name: selector.defining_module(name)
        for name in selector.__all__
        if not name.startswith("__")  # every other public name is a function or a class
    }
    functions, classes = reference_sections(exports, _PACKAGE_DIR)
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
    out += [*functions, "## Classes", "", *classes]
    return "\n".join(out).rstrip("\n") + "\n"
