"""The labelled corpus of real systems (``tests/corpus``): one profile per system, with the
protocol its builders chose and where they said so, in the file's header comment.

One reader for everyone: the corpus test and the generated "Agreement with real systems" page
both load cases here, so the header format has a single definition. This module reads files
(it sits on the loading side, not in the pure core); scoring the cases is :func:`evaluate`.

Header format, a block of ``# key: value`` comment lines before the YAML, where a value may
continue on following lines indented by three spaces (``#   more text``)::

    # expected: websocket          the team's choice: websocket, sse or webrtc (required)
    # system: Discord Gateway      the real system (required)
    # set: real-world              original (written beside the rules) or real-world (required)
    # source: https://...          one or more URLs, space separated (required)
    # quote: "..."                 the team's stated reason, at most 30 words, or: none stated
    # confidence: high             high, medium or low: how sure the label and workload are
    # figures: from source         from source or estimated: where the workload numbers come from
    # decided-by: push-only, ...   reason categories the source gives, from DECIDED_BY
    # why: ...                     a summary of the reason, citing an https:// URL (required)
    # miss-note: ...               for a case the engine disagrees with: why it does (optional)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, get_args

from selector.errors import DEFAULT_FILE, Problem, SelectorError
from selector.protocols import PROTOCOLS, Protocol

__all__ = [
    "CONFIDENCES",
    "CORPUS_DIR",
    "DECIDED_BY",
    "REASON_RULES",
    "SETS",
    "Agreement",
    "CaseResult",
    "CorpusCase",
    "CorpusError",
    "FieldEffect",
    "Support",
    "engine_answer",
    "evaluate",
    "load_case",
    "load_corpus",
    "parse_header",
    "rival_of",
    "rules_favouring",
    "v2_field_effects",
]

#: The corpus shipped next to the package in the repository.
CORPUS_DIR = Path(__file__).resolve().parents[1] / "tests" / "corpus"

CaseSet = Literal["original", "real-world"]
Confidence = Literal["high", "medium", "low"]
Figures = Literal["from source", "estimated"]

SETS: tuple[CaseSet, ...] = get_args(CaseSet)
CONFIDENCES: tuple[Confidence, ...] = get_args(Confidence)
FIGURES: tuple[Figures, ...] = get_args(Figures)
_T = TypeVar("_T", bound=str)

#: The closed vocabulary of reasons real teams give, for ``# decided-by:``.
DECIDED_BY: Mapping[str, str] = {
    "push-only": "data flows from server to client only",
    "bidirectional": "both sides send on the same connection",
    "client-acks": "the client must acknowledge or answer server messages",
    "in-band-control": "subscribe/filter/control messages travel on the stream itself",
    "low-latency": "a tight end-to-end latency budget",
    "high-rate-upstream": "clients send often (input, telemetry, edits)",
    "binary": "binary payloads",
    "media": "real-time audio or video",
    "peer-to-peer": "clients talk to each other directly",
    "best-effort/unordered": "stale data is worthless: loss beats head-of-line blocking",
    "proxy-compat": "a hop strips Upgrade, buffers streams, or corporate proxies interfere",
    "http-simplicity": "plain HTTP: caching, auth, CDNs, ordinary tooling",
    "serverless/managed-sockets": "a serverless backend, or a managed service holds the sockets",
    "connection-limit": "6 connections per origin over HTTP/1.1, or HTTP/2 multiplexing",
    "mobile-background": "mobile clients in the background, battery, flaky networks",
    "scale/fan-out": "many receivers of the same events, or many connections per server",
    "resume/replay": "clients catch up on what they missed after a reconnect",
    "browser-support": "what browsers (or their APIs) support natively",
}

#: Which rules carry each reason: the engine "cites" a case's stated reason when one of these
#: rules fires in favour of the team's choice over its rival (the other protocol with the
#: highest score). Every reason maps to at least one rule of the default matrix (checked by
#: tests/test_corpus.py), so a renamed or removed rule shows up there.
REASON_RULES: Mapping[str, tuple[str, ...]] = {
    # Push with only rare client requests on the side is the same reason: the engine carries
    # it as occasional-upstream-over-post when the client sends anything at all.
    "push-only": ("push-only-stream", "occasional-upstream-over-post"),
    "bidirectional": (
        "steady-two-way",
        "steady-upstream",
        "high-rate-small-mutations",
        "interactive-acked-commands",
        "client-acked-server-messages",
        "in-band-control",
        "small-messages-read-in-band",
    ),
    "client-acks": ("client-acked-server-messages",),
    # small-messages-read-in-band is in-band-control read where the profile does not state
    # the channel (every v1 file): the same reason, the same design.
    "in-band-control": (
        "in-band-control",
        "small-messages-read-in-band",
        "high-rate-feed-with-control",
    ),
    "low-latency": ("interactive-acked-commands", "best-effort-tight-latency"),
    "high-rate-upstream": ("steady-upstream", "high-rate-small-mutations"),
    "binary": ("binary-over-sse",),
    "media": (
        "media-needs-rtp",
        "media-to-browser-or-mobile",
        "media-over-sse",
        "buffered-media-playback",
        "server-to-server-audio",
        "audio-to-a-recogniser",
    ),
    "peer-to-peer": ("peer-to-peer-clients", "peer-data-server-relay"),
    "best-effort/unordered": (
        "best-effort-delivery",
        "best-effort-tight-latency",
        "reliable-unordered",
    ),
    "proxy-compat": (
        "restrictive-networks",
        "azure-front-door-no-sse",
        "gcp-lb-lifetime-cap",
        "timeout-control-none",
    ),
    "http-simplicity": (
        "push-only-stream",
        "occasional-upstream-over-post",
        "http2-multiplexing",
        "http2-posts-share-the-stream",
    ),
    "serverless/managed-sockets": ("serverless-backend", "managed-websocket-gateway"),
    "connection-limit": (
        "sse-http1-connection-limit",
        "sse-http1-connection-exhaustion",
        "http2-multiplexing",
        "http2-posts-share-the-stream",
    ),
    "mobile-background": ("mobile-native-websocket",),
    "scale/fan-out": ("large-fan-out",),
    "resume/replay": ("resume-built-into-sse",),
    "browser-support": (
        "browser-header-auth",
        "mobile-native-websocket",
        "media-to-browser-or-mobile",
        "peer-to-peer-clients",
        "device-clients",
    ),
}

#: Longest quote, in words: a quote is evidence, not a copy of the source.
MAX_QUOTE_WORDS = 30
NO_QUOTE = "none stated"

_KEYS = (
    "expected",
    "system",
    "set",
    "source",
    "quote",
    "confidence",
    "figures",
    "decided-by",
    "why",
    "miss-note",
)
_REQUIRED = ("expected", "system", "set", "source", "quote", "confidence", "why")
_FIELD = re.compile(r"^# ([a-z-]+):(?: (.*))?$")
_CONTINUATION = re.compile(r"^#   (.*)$")
_URL = re.compile(r"^https?://\S+$")


class CorpusError(SelectorError):
    """A corpus file's header is missing a field or holds a value outside its vocabulary."""


@dataclass(frozen=True, slots=True)
class CorpusCase:
    """One real system: its profile file and what its header says."""

    path: Path
    expected: Protocol
    system: str
    set: CaseSet
    sources: tuple[str, ...]
    quote: str | None
    confidence: Confidence
    figures: Figures | None
    decided_by: tuple[str, ...]
    why: str
    miss_note: str | None

    @property
    def name(self) -> str:
        """The profile's name: the file's stem."""
        return self.path.stem


def parse_header(text: str, file: str = DEFAULT_FILE) -> dict[str, tuple[str, int]]:
    """The header fields of a corpus file: key -> (value, line), continuation lines joined
    with single spaces. Raises :class:`CorpusError` on an unknown or repeated key."""
    fields: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("#"):
            break
        if (more := _CONTINUATION.match(line)) and current is not None:
            value, start = fields[current]
            fields[current] = (f"{value} {more.group(1).strip()}".strip(), start)
            continue
        match = _FIELD.match(line)
        if match is None:
            raise CorpusError.single(
                "header lines are '# key: value' or a continuation indented by three spaces",
                file=file,
                line=number,
            )
        key, value = match.group(1), (match.group(2) or "").strip()
        if key not in _KEYS:
            raise CorpusError.single(
                f"unknown header field {key!r}; known: {', '.join(_KEYS)}", file=file, line=number
            )
        if key in fields:
            raise CorpusError.single(f"header field {key!r} given twice", file=file, line=number)
        fields[key] = (value, number)
        current = key
    return fields


def _choice(
    fields: Mapping[str, tuple[str, int]], key: str, allowed: tuple[_T, ...], file: str
) -> _T:
    value, line = fields[key]
    for option in allowed:
        if value == option:
            return option
    raise CorpusError.single(
        f"# {key}: {value!r} is not one of {', '.join(allowed)}", file=file, line=line, path=key
    )


def _case_from_header(path: Path, fields: Mapping[str, tuple[str, int]]) -> CorpusCase:
    file = str(path)
    problems = [
        Problem(f"missing header field '# {key}:'", file, 1, 1, key)
        for key in _REQUIRED
        if not fields.get(key, ("", 0))[0]
    ]
    if problems:
        raise CorpusError(problems)
    sources_text, sources_line = fields["source"]
    sources = tuple(sources_text.split())
    for url in sources:
        if not _URL.match(url):
            raise CorpusError.single(
                f"source {url!r} is not a URL", file=file, line=sources_line, path="source"
            )
    quote_text, quote_line = fields["quote"]
    quote = None if quote_text == NO_QUOTE else quote_text.strip('"')
    if quote is not None and len(quote.split()) > MAX_QUOTE_WORDS:
        raise CorpusError.single(
            f"quote has {len(quote.split())} words; at most {MAX_QUOTE_WORDS}",
            file=file,
            line=quote_line,
            path="quote",
        )
    decided_text, decided_line = fields.get("decided-by", ("", 0))
    decided_by = tuple(part.strip() for part in decided_text.split(",") if part.strip())
    for reason in decided_by:
        if reason not in DECIDED_BY:
            raise CorpusError.single(
                f"decided-by {reason!r} is not in the vocabulary: {', '.join(DECIDED_BY)}",
                file=file,
                line=decided_line,
                path="decided-by",
            )
    why, why_line = fields["why"]
    if "https://" not in why:
        raise CorpusError.single(
            "the justification cites no https:// URL", file=file, line=why_line, path="why"
        )
    return CorpusCase(
        path=path,
        expected=_choice(fields, "expected", PROTOCOLS, file),
        system=fields["system"][0],
        set=_choice(fields, "set", SETS, file),
        sources=sources,
        quote=quote,
        confidence=_choice(fields, "confidence", CONFIDENCES, file),
        figures=_choice(fields, "figures", FIGURES, file) if "figures" in fields else None,
        decided_by=decided_by,
        why=why,
        miss_note=fields["miss-note"][0] if "miss-note" in fields else None,
    )


def load_case(path: Path) -> CorpusCase:
    """Read one corpus file's header (the profile itself is loaded by ``load_profile``)."""
    text = path.read_text(encoding="utf-8")
    return _case_from_header(path, parse_header(text, str(path)))


def load_corpus(folder: Path = CORPUS_DIR) -> list[CorpusCase]:
    """Every case in ``folder``, sorted by file name (empty if the folder is absent)."""
    return [load_case(path) for path in sorted(folder.glob("*.yaml"))] if folder.is_dir() else []


@dataclass(frozen=True, slots=True)
class Support:
    """One fired rule's effect on one protocol: a score delta, or a veto."""

    rule: str
    protocol: str
    delta: float
    veto: bool = False


def rival_of(scores: Sequence[tuple[str, float]], choice: str) -> str | None:
    """The protocol other than ``choice`` with the highest score in ``scores`` (a ranking),
    vetoed or not: a rule that vetoes the strongest alternative (SSE at six streams over
    HTTP/1.1) argues for the choice."""
    others = [(score, -rank, p) for rank, (p, score) in enumerate(scores) if p != choice]
    return max(others)[2] if others else None


def rules_favouring(support: Iterable[Support], choice: str, rival: str | None) -> set[str]:
    """Rules whose effects rank ``choice`` above ``rival``: a larger delta for the choice, or a
    veto of the rival alone. The test behind reasons cited and behind the examples' bar of two
    rules (tests/test_profiles.py)."""
    effects: dict[str, dict[str, float]] = {}
    for s in support:
        effects.setdefault(s.rule, {})[s.protocol] = float("-inf") if s.veto else s.delta
    return {
        rule
        for rule, by_protocol in effects.items()
        if rival is not None and by_protocol.get(choice, 0.0) > by_protocol.get(rival, 0.0)
    }


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What the engine answered for one case. ``got`` is ``"none"`` when it vetoed all."""

    case: CorpusCase
    got: str
    scores: tuple[tuple[str, float], ...]
    support: tuple[Support, ...] = ()
    #: The confidence the engine gave its answer (high, medium or low; "" when unknown).
    engine_confidence: str = ""

    @property
    def agrees(self) -> bool:
        """The engine's answer is the team's choice."""
        return self.got == self.case.expected

    @property
    def rival(self) -> str | None:
        """The other protocol with the highest score, vetoed or not (:func:`rival_of`)."""
        return rival_of(self.scores, self.case.expected)

    def favouring_rules(self) -> set[str]:
        """Rules whose effects rank the team's choice above its rival (:func:`rules_favouring`)."""
        return rules_favouring(self.support, self.case.expected, self.rival)

    @property
    def reasons_cited(self) -> tuple[str, ...]:
        """The case's stated reasons (``decided-by``) that the engine's explanation cites: a
        rule carrying the reason (:data:`REASON_RULES`) ranks the team's choice above its
        rival."""
        favouring = self.favouring_rules()
        return tuple(
            reason
            for reason in self.case.decided_by
            if favouring.intersection(REASON_RULES.get(reason, ()))
        )

    @property
    def reason_cited(self) -> bool:
        """At least one stated reason is cited (false for a case that states none)."""
        return bool(self.reasons_cited)

    def scores_text(self) -> str:
        """The ranking as ``websocket 3, sse 1, webrtc -2``."""
        return ", ".join(f"{protocol} {score:g}" for protocol, score in self.scores)


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement of the engine with a set of cases."""

    results: tuple[CaseResult, ...]

    @property
    def hits(self) -> int:
        """Cases where the engine picked the team's protocol."""
        return sum(result.agrees for result in self.results)

    @property
    def ratio(self) -> float:
        """Share of cases agreed with (1.0 for an empty set)."""
        return self.hits / len(self.results) if self.results else 1.0

    @property
    def misses(self) -> tuple[CaseResult, ...]:
        """The cases where the engine disagrees."""
        return tuple(result for result in self.results if not result.agrees)

    def only(self, case_set: CaseSet) -> Agreement:
        """The agreement on one set of cases."""
        return Agreement(tuple(r for r in self.results if r.case.set == case_set))

    def confusion(self) -> Counter[tuple[str, str]]:
        """Counts of (expected, got) pairs."""
        return Counter((r.case.expected, r.got) for r in self.results)

    def summary(self) -> str:
        """``82% (41/50)``."""
        return f"{self.ratio:.0%} ({self.hits}/{len(self.results)})"

    @property
    def with_reasons(self) -> tuple[CaseResult, ...]:
        """The cases whose source states at least one reason."""
        return tuple(result for result in self.results if result.case.decided_by)

    @property
    def reason_cited_ratio(self) -> float:
        """Share of the cases stating a reason where the engine cites one of them (1.0 when
        none states a reason)."""
        stated = self.with_reasons
        return sum(r.reason_cited for r in stated) / len(stated) if stated else 1.0

    def reason_summary(self) -> str:
        """``61% (40/66) of cases, 45% (60/133) of stated reasons``."""
        stated = self.with_reasons
        cases = sum(r.reason_cited for r in stated)
        reasons = sum(len(r.case.decided_by) for r in stated)
        cited = sum(len(r.reasons_cited) for r in stated)
        share = cited / reasons if reasons else 1.0
        return (
            f"{self.reason_cited_ratio:.0%} ({cases}/{len(stated)}) of cases, "
            f"{share:.0%} ({cited}/{reasons}) of stated reasons"
        )

    def by_engine_confidence(self) -> list[list[str]]:
        """Agreement by the confidence the engine gave its answer, as table rows (a header,
        then high, medium and low): how far an answer at each level can be trusted."""
        rows = [["engine confidence", "cases", "agreement"]]
        for level in ("high", "medium", "low"):
            part = Agreement(tuple(r for r in self.results if r.engine_confidence == level))
            rows.append([level, str(len(part.results)), part.summary()])
        return rows

    def confusion_rows(self) -> list[list[str]]:
        """The confusion matrix as table rows: a header, then one row per expected label;
        columns are the engine's answers (``none`` only when some case got it)."""
        counts = self.confusion()
        answers: list[str] = list(PROTOCOLS)
        if any(got == "none" for _, got in counts):
            answers.append("none")
        rows = [["expected \\ engine", *answers]]
        for expected in PROTOCOLS:
            rows.append([expected, *(str(counts[(expected, got)]) for got in answers)])
        return rows


#: An engine's answer for one profile file: the winner (None when all are vetoed), the
#: ranking as (protocol, score), every fired rule's effect, and the answer's confidence.
Answer = Callable[[Path], tuple[str | None, Sequence[tuple[str, float]], Sequence[Support], str]]


def engine_answer(
    path: Path,
) -> tuple[str | None, Sequence[tuple[str, float]], Sequence[Support], str]:
    """The engine's :data:`Answer` for one profile file, with the built-in matrix."""
    from selector import recommend
    from selector.loading import load_profile

    rec = recommend(load_profile(path))
    support = [Support(h.rule, h.protocol, h.delta, h.effect == "veto") for h in rec.hits]
    scores = [(ranked.protocol, ranked.score) for ranked in rec.ranking]
    return rec.protocol, scores, support, rec.confidence


def evaluate(cases: Iterable[CorpusCase], answer: Answer = engine_answer) -> Agreement:
    """Run every case's profile through the engine (the built-in matrix by default)."""
    results = []
    for case in cases:
        got, scores, support, confidence = answer(case.path)
        results.append(CaseResult(case, got or "none", tuple(scores), tuple(support), confidence))
    return Agreement(tuple(results))


#: The label of the row that takes every version 2 field back at once.
EVERY_V2_FIELD = "every v2 field at once"


@dataclass(frozen=True, slots=True)
class FieldEffect:
    """What version 2 fields decide over a set of cases: the engine's answer for each case's
    profile as written, against the same profile with ``field`` taken back (see
    :func:`selector.migration.without_v2_fields`). Each tuple holds case names."""

    field: str
    #: Cases whose profile states a value of the field that v1 could not say (taking it back
    #: changes a fact the rules read).
    stated: tuple[str, ...]
    #: Answers the field moves onto the team's choice (without it the engine disagrees).
    toward: tuple[str, ...]
    #: Answers the field moves off the team's choice.
    away: tuple[str, ...]
    #: Answers the field changes where neither answer is the team's choice.
    neither: tuple[str, ...]


def v2_field_effects(cases: Iterable[CorpusCase]) -> tuple[FieldEffect, ...]:
    """One :class:`FieldEffect` per version 2 field, then one for every field at once (the
    profiles as a version 1 file would have to state them), with the built-in matrix."""
    from selector import recommend
    from selector.loading import load_profile
    from selector.migration import V2_FIELD_NAMES, without_v2_fields
    from selector.rules.facts import profile_facts

    loaded = [(case, load_profile(case.path)) for case in cases]
    answers = {case.name: recommend(profile).protocol for case, profile in loaded}
    facts = {case.name: profile_facts(profile) for case, profile in loaded}
    effects = []
    for label, fields in [(name, (name,)) for name in V2_FIELD_NAMES] + [
        (EVERY_V2_FIELD, V2_FIELD_NAMES)
    ]:
        stated: list[str] = []
        toward: list[str] = []
        away: list[str] = []
        neither: list[str] = []
        for case, profile in loaded:
            without = without_v2_fields(profile, fields)
            # Stating a field's default (hosting: long_lived_servers) changes nothing the
            # rules read: only a value v1 could not say counts as stating the field.
            if profile_facts(without) == facts[case.name]:
                continue
            stated.append(case.name)
            got, got_without = answers[case.name], recommend(without).protocol
            if got == got_without:
                continue
            if got == case.expected:
                toward.append(case.name)
            elif got_without == case.expected:
                away.append(case.name)
            else:
                neither.append(case.name)
        effects.append(
            FieldEffect(label, tuple(stated), tuple(toward), tuple(away), tuple(neither))
        )
    return tuple(effects)
