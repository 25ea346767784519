"""The one place that reads YAML from disk.

YAML is parsed to a node tree (safe schema only), then turned into plain Python data while a
source map records the line and column of every key and value. Validation errors from
pydantic or jsonschema are then reported at the node the user wrote.

Hostile input is refused with one clear problem instead of a traceback or a hang: files over
1 MiB, alias-expansion bombs and recursive aliases, duplicate keys (PyYAML would silently keep
the last one), non-UTF-8 bytes, empty files, several documents, tabs in indentation and a top
level that is not a mapping.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeAlias, overload

import yaml

from selector.errors import (
    DEFAULT_FILE,
    Problem,
    ProfileError,
    SelectorError,
    field_path,
    undecodable_text,
)

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from pydantic_core import ErrorDetails

    from selector.engine.whatif import Assignment
    from selector.profile import Profile

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "SourceMap",
    "YamlDocument",
    "expand_paths",
    "load_profile",
    "load_profile_source",
    "load_profile_text",
    "load_with_overrides",
    "parse_yaml",
    "problems_from_validation",
    "read_file_bytes",
    "read_yaml",
]

MAX_FILE_BYTES = 1024 * 1024
#: Upper bound on nodes after alias expansion; a real profile has a few hundred at most.
MAX_NODES = 20_000
#: Deepest nesting of mappings and lists read from any file (profiles nest 4 levels, the
#: rules matrix 9).
MAX_DEPTH = 64

# The C parser is several times faster; fall back to pure Python where libyaml is missing.
try:
    from yaml._yaml import CParser as _BaseParser

    _LIBYAML = True
except ImportError:  # pragma: no cover - libyaml is a dependency
    _LIBYAML = False
#: How the composer says a node was written: ``(plain, quoted)`` for a scalar, one flag for a
#: collection.
_Implicit: TypeAlias = "tuple[bool, bool] | bool"
#: Tags of collections and short scalar texts, keyed by ``(kind, text, implicit)``: a batch of
#: profiles repeats the same keys and values over and over. Bounded; short texts only.
_RESOLVED_TAGS: dict[tuple[type[yaml.Node], str | None, _Implicit], str] = {}
_RESOLVED_TAGS_MAX = 4096
_RESOLVED_TEXT_MAX = 64


class _TagResolver(Protocol):
    """PyYAML's resolver, with the types its stubs leave out."""

    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: _Implicit) -> str: ...


#: The safe schema's resolver: stateless for it (no path resolvers), so one serves every file.
_RESOLVER: _TagResolver = yaml.resolver.Resolver()


def _resolve(kind: type[yaml.Node], value: str | None, implicit: _Implicit) -> str:
    """The tag of a node the document left untagged, as the safe schema resolves it.

    Resolving a scalar's tag tries a list of regular expressions; the answer depends only on
    the text and how it was quoted (the safe schema has no path-dependent resolvers), so it
    is computed once per distinct text instead of once per occurrence.
    """
    try:
        return _RESOLVED_TAGS[kind, value, implicit]
    except KeyError:
        tag: str = _RESOLVER.resolve(kind, value, implicit)
        if (value is None or len(value) <= _RESOLVED_TEXT_MAX) and len(
            _RESOLVED_TAGS
        ) < _RESOLVED_TAGS_MAX:
            _RESOLVED_TAGS[kind, value, implicit] = tag
        return tag


#: Always empty: its ``get`` is the composer's no-op ``descend_resolver``.
_NOTHING: dict[object, object] = {}

if _LIBYAML:

    class _Composer(_BaseParser):
        """libyaml's composer with only the hooks that composing calls, each as cheap as it
        can be: the loader classes also set up a constructor and a path resolver per file
        that composing never uses. This took composing a profile of ``tests/corpus`` from
        527,000 to 440,000 instructions (callgrind)."""

        resolve = staticmethod(_resolve)

        # Path resolvers are not part of the safe schema: nothing to descend into. The
        # composer calls both for every node, so they are built-in callables that do nothing
        # (``{}.get(node, index)``, ``int()``) rather than Python functions, which each cost a
        # frame: composing a profile of the bench's 1,000 took 405,700 -> 389,000
        # instructions (callgrind).
        descend_resolver = _NOTHING.get
        ascend_resolver = int

else:  # pragma: no cover - libyaml is a dependency; this keeps PyYAML alone working

    class _Composer(yaml.SafeLoader):  # type: ignore[no-redef]
        pass


def _compose(text: str) -> list[yaml.Node | None]:
    """The node graph of every document in ``text`` (``yaml.compose_all``, without the
    generator)."""
    composer = _Composer(text)
    try:
        documents: list[yaml.Node | None] = []
        while composer.check_node():
            documents.append(composer.get_node())
        return documents
    finally:
        composer.dispose()


#: Only its stateless ``construct_yaml_*`` methods are used; the generic ``construct_object``
#: (which keeps every node it builds) runs on a constructor of each document's own.
_scalar_constructor = yaml.constructor.SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"
#: A value of one of the safe schema's usual scalar types other than text.
_Scalar: TypeAlias = "int | float | bool | None"
#: The safe schema's usual scalar types, built by their constructors directly: the generic
#: ``construct_object`` looks the tag up in several tables first.
_SCALAR_CONSTRUCTORS: dict[str, Callable[[yaml.ScalarNode], _Scalar]] = {
    "tag:yaml.org,2002:int": _scalar_constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _scalar_constructor.construct_yaml_float,
    "tag:yaml.org,2002:bool": _scalar_constructor.construct_yaml_bool,
    "tag:yaml.org,2002:null": _scalar_constructor.construct_yaml_null,
}


Loc = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Line and column (1-based) of every value and every mapping key in a document."""

    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def locate(self, loc: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """Position of ``loc``, or of its nearest ancestor that the document contains."""
        path = tuple(loc)
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))


@dataclass(frozen=True)
class YamlDocument:
    """Plain data read from one YAML file, with where each piece came from."""

    #: JSON's kinds of value, and the other scalars of YAML's safe schema a file may spell
    #: (dates and times, ``!!binary`` bytes): whoever reads it checks what it holds.
    data: dict[str, object]
    source: SourceMap
    file: str


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed node graph into Python data, refusing what a profile must not hold."""

    def __init__(self, file: str, error: type[SelectorError]) -> None:
        self.file = file
        self.error = error
        self.source = SourceMap()
        self.visited = 0
        self.stack: set[int] = set()
        # One constructor per document: PyYAML's caches every node it builds, so a shared one
        # would grow with every file a long-running process reads.
        self.constructor = yaml.constructor.SafeConstructor()

    def scalar(self, node: yaml.ScalarNode, loc: Loc) -> object:
        """The Python value of a scalar node; a value YAML cannot build is a located problem
        (``2001-02-30``, ``!!int x``: PyYAML raises plain ValueError for those)."""
        try:
            if node.tag == _STR_TAG:  # every key and most values: the text itself
                return node.value
            build = _SCALAR_CONSTRUCTORS.get(node.tag)
            if build is not None:
                return build(node)
            # Timestamps, binary, and unknown tags (which raise a located error).
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            reason = _yaml_problem(exc) if isinstance(exc, yaml.YAMLError) else str(exc)
            raise self.fail(node, f"cannot read value: {reason}", loc) from None

    def fail(self, node: yaml.Node, message: str, loc: Loc = ()) -> SelectorError:
        line, col = _mark(node)
        return self.error.single(message, file=self.file, line=line, col=col, path=field_path(loc))

    # A mapping builds a dict (the document's top level is one): said to the type checker
    # by overloads, which cost nothing per call.
    @overload
    def build(self, node: yaml.MappingNode, loc: Loc) -> dict[str, object]: ...
    @overload
    def build(self, node: yaml.Node, loc: Loc) -> object: ...
    def build(self, node: yaml.Node, loc: Loc) -> object:
        if len(loc) > MAX_DEPTH:
            # Building recurses: 600 nested lists ended in a RecursionError traceback.
            raise self.fail(node, f"nested more than {MAX_DEPTH} levels deep", loc)
        self.visited += 1
        if self.visited > MAX_NODES:
            raise self.fail(
                node,
                f"document expands to more than {MAX_NODES} nodes (alias expansion bomb?)",
                loc,
            )
        self.source.values.setdefault(loc, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, loc)
        if id(node) in self.stack:
            raise self.fail(node, "recursive alias: a node contains itself", loc)
        self.stack.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self.build_mapping(node, loc)
        finally:
            self.stack.discard(id(node))

    def build_mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, object]:
        result: dict[str, object] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.fail(key_node, "merge keys (<<) are not supported; write keys out", loc)
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "mapping keys must be plain strings", loc)
            key = self.scalar(key_node, loc)
            if not isinstance(key, str):
                raise self.fail(
                    key_node,
                    f"mapping key {key!r} must be a string (quote it: '{key}')",
                    loc,
                )
            if key in first_seen:
                line, _ = _mark(first_seen[key])
                raise self.fail(
                    key_node,
                    f"duplicate key '{key}' (first defined on line {line}); "
                    "YAML would silently keep only the last value",
                    (*loc, key),
                )
            first_seen[key] = key_node
            self.source.keys[(*loc, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*loc, key))
        return result


class _DeferredSourceMap(SourceMap):
    """The source map of a document read by :func:`_plain_data`, worked out by the full
    builder the first time a position is asked for (an error to locate, ``migrate``): a
    valid profile in a batch never needs one."""

    def __init__(self, root: yaml.Node, file: str, error: type[SelectorError]) -> None:
        # ``values`` and ``keys`` stay unset until asked for (then ``__getattr__`` runs).
        self._pending = (root, file, error)

    def __getattr__(self, name: str) -> dict[Loc, tuple[int, int]]:
        if name not in ("values", "keys"):
            raise AttributeError(name)
        root, file, error = self.__dict__.pop("_pending")
        builder = _Builder(file, error)
        builder.build(root, ())
        self.values = builder.source.values
        self.keys = builder.source.keys
        return self.values if name == "values" else self.keys


class _NotPlain(Exception):
    """The document holds something only :class:`_Builder` reads (or refuses) as it should."""


#: Scalars already built, keyed by ``(tag, text)``: numbers and booleans repeat across a
#: batch, and ``construct_yaml_int`` and friends are Python code. Bounded; short texts only.
_BUILT_SCALARS: dict[tuple[str, str], _Scalar] = {}
_BUILT_SCALARS_MAX = 4096
#: :func:`_plain_data` is used below this size only: a value node takes at least one
#: character, so such a document cannot reach ``MAX_NODES`` (the builder's count is skipped).
_PLAIN_MAX_CHARS = MAX_NODES // 2


# As for ``_Builder.build``: a mapping gives a dict.
@overload
def _plain_data(node: yaml.MappingNode) -> dict[str, object]: ...
@overload
def _plain_data(node: yaml.Node) -> object: ...
def _plain_data(node: yaml.Node) -> object:
    """Python data of a node graph without anchors, or :class:`_NotPlain`.

    The common case, a profile of plain keys and values, built in one pass with no source
    map, no node count and no alias bookkeeping; anything else (a duplicate, merge or
    non-text key, a tag other than the usual scalars) is left to :class:`_Builder`, which
    reads it or raises the located error. For a profile of ``tests/corpus``: 53,000
    instructions against 297,000 for :class:`_Builder` (callgrind).
    """
    kind = node.__class__
    if kind is yaml.ScalarNode:
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        key = (tag, node.value)
        try:
            return _BUILT_SCALARS[key]
        except KeyError:
            build = _SCALAR_CONSTRUCTORS.get(tag)
            if build is None:
                raise _NotPlain from None
            assert isinstance(node, yaml.ScalarNode)  # for the type checker: ``kind`` says so
            value = build(node)
            if len(node.value) <= _RESOLVED_TEXT_MAX and len(_BUILT_SCALARS) < _BUILT_SCALARS_MAX:
                _BUILT_SCALARS[key] = value
            return value
    if kind is yaml.MappingNode:
        pairs = node.value
        result: dict[str, object] = {}
        for key_node, value_node in pairs:
            if key_node.tag != _STR_TAG or key_node.__class__ is not yaml.ScalarNode:
                raise _NotPlain
            result[key_node.value] = _plain_data(value_node)
        if len(result) != len(pairs):  # a duplicate key
            raise _NotPlain
        return result
    if kind is yaml.SequenceNode:
        return [_plain_data(item) for item in node.value]
    raise _NotPlain


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [exc.context or "", exc.problem or ""]
        return ", ".join(p for p in parts if p) or str(exc)
    return str(exc)


_TAB_INDENT = re.compile(r"^[ ]*\t", re.MULTILINE)
#: Exponent forms YAML 1.1 does not read as numbers (its floats need a dot and a signed
#: exponent: 1.0e+3), so they arrive as text although the user wrote no quotes.
_TEXTUAL_EXPONENT = re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+")


def parse_yaml(raw: bytes, file: str, *, error: type[SelectorError] = ProfileError) -> YamlDocument:
    """Parse ``raw`` bytes as one YAML mapping, with a source map; raise ``error`` if not."""

    def fail(message: str, line: int = 0, col: int = 0) -> SelectorError:
        return error.single(message, file=file, line=line, col=col)

    if len(raw) > MAX_FILE_BYTES:
        raise fail(f"file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES} (1 MiB)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(*undecodable_text(raw, exc)) from None
    if not text.strip():
        raise fail("file is empty")
    # The regular expression tries every line start: 80,000 instructions for a 1.3 kB
    # profile, against a few hundred for looking for a tab at all.
    tab = _TAB_INDENT.search(text) if "\t" in text else None
    if tab is not None:
        line = text.count("\n", 0, tab.start()) + 1
        raise fail("tab character in indentation; YAML indents with spaces only", line, 1)
    try:
        composed = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        raise fail(f"invalid YAML: {_yaml_problem(exc)}", line, col) from None
    documents = [d for d in composed if d is not None]
    if not documents:
        raise fail("file holds no YAML document (only comments?)")
    if len(documents) > 1:
        line, col = _mark(documents[1])
        raise fail(f"file holds {len(documents)} YAML documents; put one per file", line, col)
    root = documents[0]
    if not isinstance(root, yaml.MappingNode):
        line, col = _mark(root)
        raise fail("top level must be a mapping of field: value", line, col)
    if len(text) <= _PLAIN_MAX_CHARS and "&" not in text:  # no anchor, so no alias
        try:
            data = _plain_data(root)
        except (_NotPlain, ValueError, TypeError, OverflowError, RecursionError):
            pass
        else:
            return YamlDocument(data=data, source=_DeferredSourceMap(root, file, error), file=file)
    builder = _Builder(file, error)
    data = builder.build(root, ())
    return YamlDocument(data=data, source=builder.source, file=file)


#: Files are read in chunks of this size: ``read(MAX_FILE_BYTES + 1)`` would allocate a
#: 1 MiB buffer for every few-hundred-byte profile (~30 us of a ~100 us load in a batch).
_READ_CHUNK = 64 * 1024


def _read_capped(handle: BinaryIO, limit: int) -> bytes:
    """The file's bytes, stopping once past ``limit`` so an oversized file is refused
    without loading it: then ``limit + 1`` of them, as one capped read gave."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = handle.read(_READ_CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)[: limit + 1]


def read_file_bytes(
    path: str | Path, error: type[SelectorError], limit: int = MAX_FILE_BYTES
) -> bytes:
    """A file's bytes, at most ``limit + 1`` of them (more is the caller's to refuse); a
    folder or an unreadable file is ``error`` naming the file. One read, so a pipe works."""
    try:
        # Unbuffered: ``_read_capped`` reads in large chunks already, and a buffered reader
        # only adds an object and a copy (reading took 30,000 -> 27,200 instructions a file).
        with open(path, "rb", buffering=0) as handle:
            return _read_capped(handle, limit)
    except IsADirectoryError:
        raise error.single("is a directory, not a file", file=str(path)) from None
    except OSError as exc:
        raise error.single(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None


def read_yaml(path: str | Path, *, error: type[SelectorError] = ProfileError) -> YamlDocument:
    """Read and parse one YAML file; every failure is raised as ``error`` with a location."""
    return parse_yaml(read_file_bytes(path, error), str(path), error=error)


# --- validation errors, located ---------------------------------------------------------------


def problems_from_validation(
    exc: ValidationError, document: YamlDocument, model: type[BaseModel]
) -> list[Problem]:
    """Turn pydantic errors into located problems with messages that say what is allowed."""
    errors = exc.errors(include_url=False)
    # A missing field next to an unknown one is usually its misspelling: list it after the
    # unknown field, its cause, rather than at the parent's earlier line.
    unknown_at = {
        tuple(err["loc"][:-1]): tuple(err["loc"])
        for err in errors
        if err["type"] == "extra_forbidden"
    }
    placed = []
    for err in errors:
        loc = tuple(err["loc"])
        kind = err["type"]
        order = (0, 0, 0)
        if kind == "extra_forbidden":
            line, col = document.source.locate(loc, key=True)
            message = _unknown_field_message(model, loc)
        elif kind == "missing":
            line, col = document.source.locate(loc[:-1])
            message = "required field is missing"
        else:
            line, col = document.source.locate(loc)
            message = _friendly(err)
        cause = unknown_at.get(loc[:-1])
        # Missing, or about a field the file does not hold (located at its parent).
        if cause is not None and (line, col) == document.source.locate(loc[:-1]):
            order = (*document.source.locate(cause, key=True), 1)
        problem = Problem(
            message=message, file=document.file, line=line, col=col, path=field_path(loc)
        )
        placed.append((order if order != (0, 0, 0) else (line, col, 0), problem))
    placed.sort(key=lambda pair: pair[0])
    return [problem for _, problem in placed]


#: Words for YAML values, instead of Python type names.
_VALUE_WORDS: dict[type, str] = {
    str: "text",
    int: "number",
    float: "number",
    bool: "true/false",
    list: "list",
    dict: "mapping",
}

#: pydantic messages that name Python types, in YAML's words.
_SHAPE_MESSAGES = {
    "tuple_type": "should be a list (one '- item' per line, or [a, b])",
    "list_type": "should be a list (one '- item' per line, or [a, b])",
    "set_type": "should be a list (one '- item' per line, or [a, b])",
    "frozen_set_type": "should be a list (one '- item' per line, or [a, b])",
    "dict_type": "should be a mapping (key: value lines)",
    "model_type": "should be a mapping (key: value lines)",
    "model_attributes_type": "should be a mapping (key: value lines)",
}

_LOOKS_SCALAR = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|true|false|yes|no", re.I)


def _value_word(value: object) -> str:
    return next((word for t, word in _VALUE_WORDS.items() if type(value) is t), "value")


def _friendly(err: ErrorDetails) -> str:
    message = str(err["msg"])
    kind = err["type"]
    value = err.get("input")
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind in _SHAPE_MESSAGES:
        return f"{_SHAPE_MESSAGES[kind]}, got {_value_word(value)} {value!r}"
    if kind in {"int_type", "float_type", "bool_type", "string_type"}:
        got = f"got {_value_word(value)} {value!r}"
        if isinstance(value, str) and _TEXTUAL_EXPONENT.fullmatch(value.strip()):
            got += "; YAML reads this exponent form as text: write 1.0e+3 (dot and sign) or 1000"
        elif isinstance(value, str) and _LOOKS_SCALAR.fullmatch(value.strip()):
            got += "; write numbers and booleans without quotes"
        return f"{message} ({got})"
    if kind in {"literal_error", "enum"}:
        hint = ""
        expected = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        if isinstance(value, int | float) and not isinstance(value, bool):
            # Only where the choices are text (http_version: "2"); schema_version is a number.
            if f"{value:g}" in expected:
                hint = f'; quote it: "{value:g}"'
            elif expected:
                hint = f'; quote it, for example "{expected[0]}"'
        elif isinstance(value, str) and not expected and _LOOKS_SCALAR.fullmatch(value.strip()):
            hint = "; write numbers without quotes"
        elif isinstance(value, str):
            close = difflib.get_close_matches(value, expected, n=1, cutoff=0.6)
            if close:
                hint = f"; did you mean '{close[0]}'?"
        return f"{message}, got {value!r}{hint}"
    return message


def _unknown_field_message(model: type[BaseModel], loc: Loc) -> str:
    unknown = loc[-1]
    allowed = _fields_at(model, loc[:-1])
    message = f"unknown field '{unknown}'"
    if allowed:
        close = difflib.get_close_matches(str(unknown), allowed, n=1, cutoff=0.6)
        if close:
            return f"{message}; did you mean '{close[0]}'?"
        message += "; allowed here: " + ", ".join(sorted(allowed))
    return message


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Names of the fields of the model found at ``loc`` inside ``model``."""
    from pydantic import BaseModel

    current: object = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return []
        current = _model_in(fields[part].annotation)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: object) -> type[BaseModel] | None:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


# --- profiles ---------------------------------------------------------------------------------


def _validate_profile(document: YamlDocument) -> Profile:
    from pydantic import ValidationError

    from selector.profile import Profile

    try:
        return Profile.model_validate(document.data)
    except ValidationError as exc:
        raise ProfileError(problems_from_validation(exc, document, Profile)) from None


def load_profile(path: str | Path) -> Profile:
    """Read, parse and validate a profile file.

    Raises :class:`selector.errors.ProfileError` listing every problem with its file, line,
    column and field path. Never raises anything else for bad input.
    """
    return _validate_profile(read_yaml(path))


def load_profile_source(path: str | Path) -> tuple[str, YamlDocument, Profile]:
    """Read and validate a profile file, keeping its text and source map (for tools that
    edit the file in place, such as ``selector migrate``)."""
    raw = read_file_bytes(path, ProfileError)
    document = parse_yaml(raw, str(path))
    # parse_yaml has decoded it already, so this cannot fail.
    return raw.decode("utf-8-sig"), document, _validate_profile(document)


def load_profile_text(text: str | bytes, file: str = DEFAULT_FILE) -> Profile:
    """Validate a profile given as YAML text (for tools that hold it in memory)."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return _validate_profile(parse_yaml(raw, file))


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named directly, and every ``*.yaml`` / ``*.yml`` under named folders, sorted."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _profiles_under(path)
        else:
            yield path


def _is_profile_name(name: str) -> bool:
    """``Path(name).suffix in {".yaml", ".yml"}``: a suffix needs a stem before its dot."""
    return (name.endswith(".yaml") and len(name) > 5) or (name.endswith(".yml") and len(name) > 4)


def _profiles_under(folder: Path) -> list[Path]:
    """The profile files under ``folder``, as ``sorted(p for p in folder.rglob("*") if
    p.suffix in {".yaml", ".yml"} and p.is_file())`` gives them, and broken links named like
    profiles (:func:`_is_file`): hidden files and folders included, folders that are symbolic
    links not entered, unreadable folders skipped.

    One ``os.scandir`` per folder, sorted by name parts (the order of ``Path`` objects), and a
    ``Path`` only for the files found: ``rglob`` lists each folder twice, makes a ``Path`` of
    every entry and ``is_file`` stats each one; 74,900 -> 22,500 instructions a file for the
    bench's folder of 1,000 profiles (callgrind).
    """
    found: list[tuple[str, ...]] = []
    pending: list[tuple[str, tuple[str, ...]]] = [(str(folder), ())]
    while pending:
        directory, parts = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except PermissionError:
            continue
        for entry in entries:
            name = entry.name
            try:
                inside = entry.is_dir(follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in _IGNORED_ERRNOS:
                    raise
                inside = False
            if inside:
                pending.append((entry.path, (*parts, name)))
            elif _is_profile_name(name) and _is_file(entry):
                found.append((*parts, name))
    found.sort()
    return [folder.joinpath(*parts) for parts in found]


#: The errors ``pathlib`` takes as "no such file" rather than raising them.
_IGNORED_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _is_file(entry: os.DirEntry[str]) -> bool:
    """``Path(entry.path).is_file()``: the entry's type as listed, but a symbolic link is
    followed (``os.stat``). A broken link or a loop counts as a file: named like a profile, it
    is one that went missing, and reading it reports so (``pathlib`` would skip it, and a
    folder check would pass with a profile silently gone)."""
    if not entry.is_symlink():
        return entry.is_file(follow_symlinks=False)
    try:
        return stat.S_ISREG(os.stat(entry.path).st_mode)
    except OSError as exc:
        if exc.errno not in _IGNORED_ERRNOS:
            raise
        return True
    except ValueError:
        return True


# --- what-if: a profile file with --set overrides -----------------------------------------


def load_with_overrides(
    path: str | Path, assignments: Sequence[Assignment]
) -> tuple[Profile, Profile]:
    """The profile in ``path`` as written, and with ``assignments`` (``--set`` overrides,
    :func:`selector.engine.whatif.parse_assignment`) applied; both validated, a problem an
    override caused located at that ``--set``."""
    from pydantic import ValidationError

    from selector.engine.whatif import apply_assignments
    from selector.profile import Profile

    before = load_profile(path)
    document = read_yaml(path)
    data, created = apply_assignments(document.data, assignments)
    try:
        after = Profile.model_validate(data)
    except ValidationError as exc:
        # A value YAML read as a number where the field takes text (http_version=1.1) is
        # meant as written: retry those as text before reporting anything.
        as_text = _as_text_where_expected(exc, assignments)
        if as_text is not None:
            return before, load_with_overrides(path, as_text)[1]
        changed = YamlDocument(data=data, source=document.source, file=document.file)
        problems = problems_from_validation(exc, changed, Profile)
        raise ProfileError([_blame(p, assignments, created) for p in problems]) from None
    return before, after


def _as_text_where_expected(
    exc: Exception, assignments: Sequence[Assignment]
) -> list[Assignment] | None:
    """``assignments`` with numbers turned back into their text where validation wanted
    text at exactly that field; None when no such assignment is to blame."""
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    wants_text = {
        tuple(error["loc"])
        for error in exc.errors()
        if error["type"] in ("string_type", "literal_error", "enum")
    }
    retyped = [
        a.model_copy(update={"value": a.text.partition("=")[2].strip()})
        if isinstance(a.value, int | float)
        and not isinstance(a.value, bool)
        and a.path in wants_text
        else a
        for a in assignments
    ]
    return retyped if retyped != list(assignments) else None


def _blame(
    problem: Problem, assignments: Sequence[Assignment], created: set[tuple[str | int, ...]]
) -> Problem:
    """Point a problem at the ``--set`` that caused it, when one did."""
    for assignment in assignments:
        roots = [field_path(assignment.path)] + [field_path(c) for c in created]
        for root in roots:
            if problem.path == root or problem.path.startswith((root + ".", root + "[")):
                return Problem(problem.message, file=f"--set {assignment.text}", path=problem.path)
    return problem
