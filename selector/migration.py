"""Rewriting a version 1 profile as version 2, as a text edit that keeps everything else.

Every field version 2 adds has a default that keeps a v1 file's meaning, so migrating is
exactly one edit: the ``schema_version`` value. Editing the text at the value's position
(rather than loading and dumping YAML) keeps comments, key order, quoting and layout, which
PyYAML's dumper would all lose, and a byte-order mark and the line endings byte for byte.
The value is found by parsing (:mod:`selector.yaml_edit`), so any spelling of 1 is
rewritten (``!!int 1``, ``+1``, ``&v 1``, ``*v``, in block or flow style); an edit that
would change anything else (an anchor used elsewhere) is refused, located, instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from selector.engine.recommendation import TippingPoint
from selector.errors import DEFAULT_FILE, ProfileError
from selector.profile import SCHEMA_VERSION, Profile
from selector.yaml_edit import BOM, replace_scalar, value_spot

__all__ = [
    "MIGRATION_NOTE",
    "V2_FIELDS",
    "V2_FIELD_NAMES",
    "upgrade_text",
    "v2_questions",
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
