"""Rewriting a version 1 profile as version 2, as a text edit that keeps everything else.

Every field version 2 adds has a default that keeps a v1 file's meaning, so migrating is
exactly one edit: the ``schema_version`` value. Editing the text at the value's position
(rather than loading and dumping YAML) keeps comments, key order, quoting and layout, which
PyYAML's dumper would all lose, and a byte-order mark and the line endings byte for byte.
The value is found by parsing (:func:`value_spot`), so any spelling of 1 is rewritten
(``!!int 1``, ``+1``, ``&v 1``, ``*v``, in block or flow style); an edit that would change
anything else (an anchor used elsewhere) is refused, located, instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import yaml

from selector.engine.recommendation import TippingPoint
from selector.errors import DEFAULT_FILE, ProfileError
from selector.profile import SCHEMA_VERSION, Profile

if TYPE_CHECKING:
    from selector.loading import YamlDocument

__all__ = [
    "BOM",
    "MIGRATION_NOTE",
    "V2_FIELDS",
    "V2_FIELD_NAMES",
    "ValueSpot",
    "read_source",
    "replace_scalar",
    "upgrade_text",
    "v2_questions",
    "value_spot",
    "without_v2_fields",
]

#: The fields version 2 adds, each with the one value it added where the field itself is older
#: (``clients`` gained ``device``): what a v1 file cannot say.
V2_FIELDS: dict[str, str | None] = {
    "traffic.server_to_client.client_acks": None,
    "traffic.server_to_client.per_request": None,
    "traffic.client_to_server.channel": None,
    "traffic.client_to_server.sending_share": None,
    "clients": "device",
    "infrastructure.hosting": None,
    "infrastructure.managed_protocols": None,
}

#: Every field version 2 adds, as :func:`without_v2_fields` names them: those above, and the
#: hop field ``buffers_streams`` (not above: it has no tipping point of its own).
V2_FIELD_NAMES: tuple[str, ...] = (*V2_FIELDS, "infrastructure.path[].buffers_streams")

#: What a migration changes, for the user (stderr of ``selector migrate``).
MIGRATION_NOTE = (
    f"schema_version 1 -> {SCHEMA_VERSION}; nothing else changes: every field version "
    f"{SCHEMA_VERSION} adds takes its default, which keeps the version 1 meaning (comments and "
    "layout are kept)"
)


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
        token: yaml.Token = super().get_token()  # type: ignore[no-untyped-call]
        if isinstance(token, yaml.ScalarToken):
            self.scalars[token.end_mark.index] = token
        return token


#: What YAML reads as a line break (PyYAML's reader: YAML 1.1 counts NEL, LS and PS too).
LINE_BREAKS = ("\r\n", "\n", "\r", "\x85", "\u2028", "\u2029")


def _events(loader: _Recorder) -> Iterator[yaml.Event]:
    while loader.check_event():
        event: yaml.Event = loader.get_event()  # type: ignore[no-untyped-call]
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


def upgrade_text(text: str, file: str = DEFAULT_FILE) -> str:
    """``text`` (a valid version 1 profile, decoded) with its ``schema_version`` value
    written as the current version, and nothing else changed: any anchor or tag on the value
    stays (``&v !!int 2``), an alias (``*v``) becomes the number itself, and the byte-order
    mark, line endings and comments are kept as they are.

    :class:`ProfileError`, located at the value, where that edit would change anything else
    (the value's anchor is used elsewhere) or the value is not one line of text.
    """
    from selector.loading import parse_yaml

    bom = BOM if text.startswith(BOM) else ""
    body = text[len(bom) :]
    before = parse_yaml(text.encode("utf-8"), file)
    line, col = before.source.locate(("schema_version",))

    def refuse(why: str) -> ProfileError:
        return ProfileError.single(
            f"cannot rewrite the value in place: {why}; write "
            f"'schema_version: {SCHEMA_VERSION}' there by hand",
            file=file,
            line=line,
            col=col,
            path="schema_version",
        )

    try:
        spot = value_spot(body, ("schema_version",))
    except yaml.YAMLError:
        raise refuse("PyYAML's pure-Python parser cannot read the file") from None
    if spot is None:
        raise refuse("no schema_version key in the top-level mapping")
    line, col = spot.line, spot.col
    migrated = replace_scalar(body, spot, str(SCHEMA_VERSION))
    if migrated is None:
        raise refuse("the value is not a number on one line")
    try:
        after = parse_yaml((bom + migrated).encode("utf-8"), file)
    except ProfileError:
        raise refuse("the edited value does not read as YAML") from None
    version = after.data.get("schema_version")
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise refuse(f"the edited value reads as {version!r}")
    others = {k: v for k, v in before.data.items() if k != "schema_version"}
    if {k: v for k, v in after.data.items() if k != "schema_version"} != others:
        used = f"its anchor &{spot.anchor} is used elsewhere" if spot.anchor else None
        raise refuse(used or "the edit would change other values")
    return bom + migrated


def v2_questions(tipping_points: Iterable[TippingPoint], unstated: frozenset[str]) -> list[str]:
    """The tipping points a migrated profile can now settle: changes of a version 2 field it
    leaves to the default that would change the answer (a hop's ``buffers_streams`` has no
    tipping point of its own: taking the hop off is one)."""
    questions = []
    for tip in tipping_points:
        if tip.field not in V2_FIELDS:
            continue
        added = V2_FIELDS[tip.field]
        # A v2 field counts while the file leaves it to its default; a value v2 added to an
        # older field (clients: device) counts whatever the file lists, since v1 could not.
        if (added is None and tip.field in unstated) or (added is not None and tip.value == added):
            questions.append(tip.description)
    return questions


def without_v2_fields(profile: Profile, fields: Iterable[str] = V2_FIELD_NAMES) -> Profile:
    """``profile`` as a version 1 file would have to state it without ``fields`` (names from
    :data:`V2_FIELD_NAMES`; all of them by default): each at its default, device clients
    written as ``server`` (as v1 files wrote IoT gateways), and a hosting other than
    ``long_lived_servers`` as v1's ``serverless: true``. What the v2 fields decide is the
    difference between the answers for the two.

    ``ValueError`` for a name that is not a v2 field.
    """
    names = frozenset(fields)
    unknown = sorted(names.difference(V2_FIELD_NAMES))
    if unknown:
        raise ValueError(f"not a version 2 field: {', '.join(unknown)}")
    data = profile.model_dump()
    down = data["traffic"]["server_to_client"]
    up = data["traffic"]["client_to_server"]
    infrastructure = data["infrastructure"]
    if down is not None:
        if "traffic.server_to_client.client_acks" in names:
            down["client_acks"] = False
        if "traffic.server_to_client.per_request" in names:
            down["per_request"] = False
    upstream = profile.traffic.client_to_server
    if upstream is not None and (
        "traffic.client_to_server.channel" in names or "channel" not in upstream.model_fields_set
    ):
        # Left out, not written at its default: a version 1 file cannot state the channel,
        # and the engine reads an unstated one from the messages (small-messages-read-in-band).
        del up["channel"]
    if up is not None and "traffic.client_to_server.sending_share" in names:
        up["sending_share"] = 1.0
    if "clients" in names:
        kinds = ("server" if kind == "device" else kind for kind in profile.clients)
        data["clients"] = tuple(dict.fromkeys(kinds))
    if "infrastructure.hosting" in names:
        hosting = profile.infrastructure.effective_hosting
        infrastructure["serverless"] = hosting != "long_lived_servers"
        infrastructure["hosting"] = None
        infrastructure["managed_protocols"] = None
    if "infrastructure.managed_protocols" in names:
        infrastructure["managed_protocols"] = None
    if "infrastructure.path[].buffers_streams" in names:
        for hop in infrastructure["path"]:
            hop["buffers_streams"] = False
    return Profile.model_validate(data)
