"""Editing one value of a YAML file in place, keeping everything else as written.

Loading and dumping YAML again would lose comments, key order, quoting and layout (PyYAML's
dumper keeps none of them). Instead the value is found by parsing (:func:`value_spot`: any
spelling, block or flow style, behind an anchor or a tag) and only its characters are
replaced (:func:`replace_scalar`); a byte-order mark and the line endings stay byte for
byte. ``selector migrate`` rewrites ``schema_version`` this way and ``selector probe
--write-profile`` records a measured idle timeout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import yaml

from selector.errors import ProfileError

if TYPE_CHECKING:
    from selector.loading import YamlDocument

__all__ = ["BOM", "LINE_BREAKS", "ValueSpot", "read_source", "replace_scalar", "value_spot"]


#: The byte-order mark some editors write first; the loader skips it, an edit keeps it.
BOM = "\ufeff"


@dataclass(frozen=True)
class ValueSpot:
    """Where one value is written in a YAML text, as offsets into it: an edit of the value
    that keeps everything else (anchors, tags, comments, quoting, line endings).

    ``start``/``end`` span the value's own text: a scalar's characters (quotes included,
    after any anchor or tag), an alias's ``*name``, a collection's whole extent. An empty
    plain scalar (``key:`` with nothing after it) spans nothing, just after the colon.
    """

    kind: Literal["scalar", "alias", "mapping", "sequence"]
    start: int
    end: int
    #: 1-based line and column of ``start``, as the loader reports positions.
    line: int
    col: int
    #: A scalar's style (None plain, ``'``, ``"``, ``|``, ``>``); ``flow`` or ``block`` for a
    #: collection; None for an alias.
    style: str | None
    anchor: str | None
    #: What follows on the value's last line up to its end (``# ...`` when a comment).
    rest_of_line: str

    @property
    def empty(self) -> bool:
        return self.kind == "scalar" and self.start == self.end


class _Recorder(yaml.SafeLoader):
    """PyYAML's pure-Python parser, keeping every scalar token by where it ends: an event
    spans a scalar's anchor and tag too, the token only its text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.scalars: dict[int, yaml.ScalarToken] = {}

    def get_token(self) -> yaml.Token:
        # PyYAML's type stubs leave the scanner's and parser's methods untyped.
        token: yaml.Token = super().get_token()  # type: ignore[no-untyped-call]
        if isinstance(token, yaml.ScalarToken):
            self.scalars[token.end_mark.index] = token
        return token


#: What YAML reads as a line break (PyYAML's reader: YAML 1.1 counts NEL, LS and PS too).
LINE_BREAKS = ("\r\n", "\n", "\r", "\x85", "\u2028", "\u2029")


def _events(loader: _Recorder) -> Iterator[yaml.Event]:
    while loader.check_event():
        event: yaml.Event = loader.get_event()  # type: ignore[no-untyped-call]  # as above
        yield event


class _Position(Protocol):
    """A PyYAML mark: 0-based offset, line and column."""

    index: int
    line: int
    column: int


def _mark(mark: _Position | None) -> _Position:
    assert mark is not None, "PyYAML's pure-Python parser marks every token and event"
    return mark


def _skip(first: yaml.Event, events: Iterator[yaml.Event]) -> None:
    """Consume the rest of the node that ``first`` starts."""
    depth = 1 if isinstance(first, yaml.CollectionStartEvent) else 0
    while depth:
        event = next(events)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _node_at(events: Iterator[yaml.Event], loc: Sequence[str | int]) -> yaml.Event | None:
    node: yaml.Event | None = next((e for e in events if isinstance(e, yaml.NodeEvent)), None)
    for part in loc:
        if isinstance(node, yaml.MappingStartEvent) and isinstance(part, str):
            while True:
                key = next(events)
                if isinstance(key, yaml.MappingEndEvent):
                    return None
                value = next(events)
                if isinstance(key, yaml.ScalarEvent) and key.value == part:
                    node = value
                    break
                _skip(key, events)
                _skip(value, events)
        elif isinstance(node, yaml.SequenceStartEvent) and isinstance(part, int):
            for _ in range(part):
                item = next(events)
                if isinstance(item, yaml.SequenceEndEvent):
                    return None
                _skip(item, events)
            node = next(events)
            if isinstance(node, yaml.SequenceEndEvent):
                return None
        else:
            return None  # not there, or reached through an alias
    return node


def value_spot(text: str, loc: Sequence[str | int]) -> ValueSpot | None:
    """Where the value at ``loc`` (keys and list indexes from the top-level mapping) is
    written in ``text`` (decoded, without a byte-order mark); None where the text does not
    hold it (or reaches it only through an alias). ``yaml.YAMLError`` for text PyYAML cannot
    parse."""
    loader = _Recorder(text)
    try:
        node = _node_at(_events(loader), loc)
        if not isinstance(node, yaml.NodeEvent):
            return None
        kind: Literal["scalar", "alias", "mapping", "sequence"]
        style: str | None
        first = last = _mark(node.start_mark)
        if isinstance(node, yaml.ScalarEvent):
            kind, style = "scalar", node.style
            token = loader.scalars.get(_mark(node.end_mark).index)
            if node.style is None and node.value == "" and token is None:
                first = last = _mark(node.end_mark)
            else:
                assert token is not None, "a scalar with text comes from a scalar token"
                first, last = _mark(token.start_mark), _mark(token.end_mark)
        elif isinstance(node, yaml.AliasEvent):
            kind, style = "alias", None
            last = _mark(node.end_mark)
        else:
            # A collection's extent is not needed: its start locates it.
            assert isinstance(node, yaml.CollectionStartEvent)
            kind = "mapping" if isinstance(node, yaml.MappingStartEvent) else "sequence"
            style = "flow" if node.flow_style else "block"
        anchor = node.anchor
    finally:
        loader.dispose()
    ends = (text.find(brk, last.index) for brk in LINE_BREAKS)
    line_end = min((found for found in ends if found != -1), default=len(text))
    return ValueSpot(
        kind=kind,
        start=first.index,
        end=last.index,
        line=first.line + 1,
        col=first.column + 1,
        style=style,
        anchor=anchor,
        rest_of_line=text[last.index : line_end],
    )


def replace_scalar(text: str, spot: ValueSpot, new: str, *, keep_quotes: bool = True) -> str | None:
    """``text`` with the one-line scalar or alias at ``spot`` written as ``new``: its anchor
    and tag kept, and its quotes unless ``keep_quotes`` is false (``new`` must need none); an
    alias or an empty value becomes ``new`` plain. None for a value that is not one line of
    scalar text."""
    if spot.kind == "alias":
        return text[: spot.start] + new + text[spot.end :]
    if spot.kind != "scalar" or spot.style not in (None, "'", '"'):
        return None
    old = text[spot.start : spot.end]
    if any(brk in old for brk in LINE_BREAKS):
        return None
    if spot.empty:
        if spot.anchor is not None or text[spot.start - 1 : spot.start] != ":":
            return None
        new = f" {new}"
    elif spot.style is not None and keep_quotes:
        new = f"{spot.style}{new}{spot.style}"
    return text[: spot.start] + new + text[spot.end :]


def read_source(path: str) -> tuple[str, YamlDocument]:
    """A YAML file's text as written (a byte-order mark kept, as ``BOM``; line endings as
    they are) and the loader's reading of it, from one read of the file (which may be a
    pipe). :class:`ProfileError` for a file that cannot be read or parsed, as the loader
    gives it."""
    from selector.loading import parse_yaml, read_file_bytes

    raw = read_file_bytes(path, ProfileError)
    document = parse_yaml(raw, path)  # refuses a file too large, undecodable or not YAML
    return raw.decode("utf-8"), document
