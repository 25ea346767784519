"""The result of :func:`selector.recommend`: a JSON-serialisable, stable pydantic model.

Field names are a public contract for tooling (``selector recommend --format json``); the JSON
Schema is exported as ``docs/recommendation.schema.json`` (``selector recommend
--print-schema``). Add fields only with defaults; never rename.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from selector.jsonvalue import JsonObject
from selector.planner.model import LifetimePlan
from selector.protocols import Protocol

__all__ = [
    "RECOMMENDATION_SCHEMA_ID",
    "Bandwidth",
    "CloseCall",
    "Companion",
    "Provenance",
    "RankedProtocol",
    "Recommendation",
    "RuleHit",
    "TippingPoint",
    "recommendation_json_schema",
    "trusted",
]

RECOMMENDATION_SCHEMA_ID = "https://selector.dev/schemas/recommendation-v1.json"

FactValue = bool | int | float | str


_Model = TypeVar("_Model", bound=BaseModel)


def trusted(cls: type[_Model], **values: object) -> _Model:
    """Build ``cls`` from values the engine computed itself, skipping validation.

    Same result as ``cls.model_construct(**values)`` when every field is given (a test checks
    both against ``model_validate``), at a third of its cost: ``recommend()`` builds dozens of
    these per call, and tipping-point search is meant to stay cheap.
    """
    obj = _new(cls)
    _set_dict(obj, values)
    _set_fields_set(obj, set(values))
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


# BaseModel's slots, set through their descriptors: a call to the slot's ``__set__`` skips the
# attribute lookup of ``object.__setattr__`` (1.44 -> 1.18 µs per call, timeit; recommend()
# builds about 20 of these).
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
# The same for ``__dict__``, and ``object.__new__`` itself (BaseModel defines no ``__new__``):
# 11,419 -> 9,550 instructions per call (callgrind); recommend() 1,847,163 -> 1,818,116
# (bench/engine_instructions.sh).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_new = object.__new__


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RankedProtocol(_Out):
    """One protocol's place in the ranking."""

    protocol: Protocol
    score: float = Field(description="Sum of the score deltas of the rules that fired.")
    vetoed: bool = Field(description="A fired rule rules this protocol out.")
    veto_reasons: list[str] = Field(default_factory=list, description="Why, one per veto.")


class RuleHit(_Out):
    """One fired rule's effect on one protocol."""

    rule: str = Field(description="Stable rule id (`selector explain RULE`).")
    title: str
    protocol: Protocol
    effect: Literal["score", "veto"]
    delta: float = Field(description="Score delta applied (0 for a veto).")
    reason: str = Field(description="The rule's rationale, quoting the profile's values.")
    refs: list[str] = Field(default_factory=list, description="Specs or vendor docs.")
    grade: str | None = Field(
        default=None,
        description="For a graded effect: the measure's value, the band it falls in and "
        "every declared band (the delta is always one of theirs).",
    )


class TippingPoint(_Out):
    """A change of one profile field that would change the winner (computed, not written)."""

    field: str = Field(description="Dotted profile field, e.g. traffic.client_to_server.rate_hz.")
    change: Literal["above", "at_or_above", "at", "below", "at_or_below", "set", "add", "remove"]
    current: FactValue = Field(description="The profile's value now (0 for an absent direction).")
    value: FactValue = Field(description="The threshold, or the new value.")
    protocol: Protocol | None = Field(description="New winner (null: every protocol vetoed).")
    description: str


class Companion(_Out):
    """A piece the chosen protocol needs next to it."""

    component: str
    reason: str
    id: str = Field(
        default="", description="Stable id of the companion row (selector/engine/companions.yaml)."
    )
    source: str = Field(default="", description="Where the advice comes from.")


class Bandwidth(_Out):
    """Estimated server traffic for one protocol at peak, payload plus framing overhead."""

    protocol: Protocol
    downstream_bytes_per_s: float = Field(description="Server to clients, all connections.")
    upstream_bytes_per_s: float = Field(description="Clients to server, all connections.")
    overhead_percent: float = Field(description="Bytes on the wire above the raw payload, %.")
    heartbeat_interval_s: float = Field(
        description="The heartbeat the lifetime planner would choose for this protocol "
        "(for WebRTC, the signalling WebSocket's ping)."
    )
    heartbeat_bytes_per_connection_per_s: float = Field(
        description="Heartbeat bytes on the wire per connection per second, both directions "
        "(WebSocket Ping + Pong frames, or an SSE comment line, each in a TLS record); "
        "included in the totals above."
    )
    notes: list[str] = Field(default_factory=list)


class CloseCall(_Out):
    """Set when the top two viable protocols are close: what would decide between them."""

    runner_up: Protocol
    margin: float = Field(description="Winner's score minus the runner-up's (0 for a tie).")
    deciding: list[str] = Field(
        description="Tipping points that would hand the answer to the runner-up: the questions "
        "to settle before committing."
    )
    tie_break: str = Field(
        description="The one principle that orders a tie (least infrastructure that meets "
        "every hard requirement) and what it decided; it never changes a score."
    )


class Provenance(_Out):
    """What produced this answer, so it can be reproduced."""

    tool_version: str
    matrix_sha256: str = Field(description="Hash of the default matrix plus overlays.")
    overlays: tuple[str, ...] = Field(default=(), description="Overlay files, in order.")


class Recommendation(_Out):
    """The recommended protocol for one profile, with every reason and the evidence."""

    recommendation_version: Literal[1] = 1
    profile: str = Field(description="The profile's name.")
    protocol: Protocol | None = Field(description="The winner; null when every one is vetoed.")
    confidence: Literal["high", "medium", "low", "none"] = Field(
        description="From the margin (high: >= 4 or the only viable protocol; medium: >= 2; "
        "low: < 2), one level lower when a numeric tipping point lies within a factor of 2 of "
        "the profile's value (the answer is sensitive to an estimate), and one level lower "
        "again when one rule alone separates the winner from the runner-up and no rule reads "
        "anything for the runner-up."
    )
    margin: float | None = Field(
        description="Winner's score minus the best other viable score (null if none)."
    )
    ranking: list[RankedProtocol] = Field(description="All three protocols, best first.")
    hits: list[RuleHit] = Field(description="Every fired rule's effect, by protocol.")
    tipping_points: list[TippingPoint]
    companions: list[Companion] = Field(description="What the winner needs alongside it.")
    bandwidth: list[Bandwidth] = Field(description="One estimate per protocol.")
    provenance: Provenance
    close: CloseCall | None = Field(
        default=None,
        description="Present when the margin is at most 1 point (the smallest rule weight): "
        "the top two are close.",
    )
    plan: LifetimePlan | None = Field(
        default=None,
        description="Connection-lifetime plan for the winner: heartbeat, timeouts on every "
        "hop, reconnect policy, replay buffer (null when every protocol is vetoed).",
    )

    def ranked(self, protocol: str) -> RankedProtocol:
        """The ranking entry of ``protocol``."""
        return next(r for r in self.ranking if r.protocol == protocol)


def recommendation_json_schema() -> JsonObject:
    """JSON Schema (draft 2020-12) of :class:`Recommendation` as serialised to JSON."""
    schema = Recommendation.model_json_schema(mode="serialization")
    ordered: JsonObject = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": RECOMMENDATION_SCHEMA_ID,
    }
    ordered.update(schema)
    return ordered
