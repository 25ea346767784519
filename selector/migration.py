"""Rewriting a version 1 profile as version 2, as a text edit that keeps everything else.

Every field version 2 adds has a default that keeps a v1 file's meaning, so migrating is
exactly one edit: the ``schema_version`` value. Editing the text at the value's position
(rather than loading and dumping YAML) keeps comments, key order, quoting and layout, which
PyYAML's dumper would all lose.
"""

from __future__ import annotations

from collections.abc import Iterable

from selector.engine.recommendation import TippingPoint
from selector.profile import SCHEMA_VERSION, Profile

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


def upgrade_text(text: str, line: int, col: int) -> str:
    """``text`` with the ``schema_version`` value ``1`` at ``line``/``col`` (1-based, as the
    loader's source map gives them) replaced by the current version.

    ``ValueError`` if the text at that position is not the value ``1``.
    """
    lines = text.splitlines(keepends=True)
    if not 1 <= line <= len(lines):
        raise ValueError(f"line {line} is outside the text")
    current = lines[line - 1]
    start = col - 1
    end = start + 1
    if current[start:end] != "1" or current[end : end + 1].isdigit():
        raise ValueError(f"no schema_version value 1 at line {line}, column {col}")
    lines[line - 1] = current[:start] + str(SCHEMA_VERSION) + current[end:]
    return "".join(lines)


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
