"""Could any profile field tell a push-only WebSocket design from a push-only SSE one?

The engine answers SSE for a browser or server feed whose clients send nothing, or send only
by separate requests, and real teams in that position split between the two (docs/engine.md,
Evidence). This script asks whether the profile holds what would separate them, which a rule
could then read: over the corpus cases of that class, for every profile field and every
threshold or value of it, the split "field <= t" (a number) or "field == v" (anything else)
answers each side with the label most cases on that side have. Leave-one-out: each case is
answered by the best split found on all the other cases, so a split that only fits the cases
it was chosen on gains nothing. The baseline answers every case with the class's majority.

A split that does beat the baseline is a question to take to the sources, not a rule: a field
that records a consequence of the choice (a token in the query string because the browser's
WebSocket API cannot set headers, say) would leak the label into the profile.

Run from the repository root (a few seconds):

    .venv/bin/python scripts/separability.py

It reads the corpus and prints; it changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from selector import recommend
from selector.corpus import load_corpus
from selector.loading import load_profile
from selector.profile import Profile

Feature = bool | int | float | str
#: The two labels the class holds (WebRTC teams never fall in it: they send media or peers).
LABELS = ("sse", "websocket")
#: One case: its label and its features.
Rows = list[tuple[str, dict[str, Feature]]]


def features_of(profile: Profile) -> dict[str, Feature]:
    """Every field of the profile a rule could read for this class, one value each."""
    up = profile.traffic.client_to_server
    down = profile.traffic.server_to_client
    assert down is not None
    infra = profile.infrastructure
    features: dict[str, Feature] = {
        "schema_version": profile.schema_version,
        "auth": profile.auth,
        "traffic.encoding": profile.traffic.encoding,
        "traffic.server_to_client.rate_hz": down.rate_hz,
        "traffic.server_to_client.payload_bytes": down.payload_bytes,
        "traffic.client_to_server.rate_hz": 0.0 if up is None else up.rate_hz,
        "traffic.client_to_server.payload_bytes": 0 if up is None else up.payload_bytes,
        "delivery.guarantee": profile.delivery.guarantee,
        "delivery.latency_p99_ms": profile.delivery.latency_p99_ms or 0,
        "delivery.resume": profile.delivery.resume,
        "scale.concurrent_connections": profile.scale.concurrent_connections,
        "scale.fan_out": profile.scale.fan_out,
        "scale.streams_per_client": profile.scale.streams_per_client,
        "infrastructure.hops": len(infra.path),
        "infrastructure.http_version": infra.http_version,
        "infrastructure.timeout_control": infra.timeout_control,
        "infrastructure.hosting": infra.effective_hosting,
        "infrastructure.restrictive_networks": infra.restrictive_networks,
        "infrastructure.udp_allowed": infra.udp_allowed,
    }
    for kind in ("browser", "mobile", "server", "device"):
        features[f"clients has {kind}"] = kind in profile.clients
    for hop in {hop.kind for hop in infra.path}:
        features[f"path has {hop}"] = True
    return features


def in_class(profile: Profile) -> bool:
    """A feed with no client messages, or only ones stated as separate requests."""
    if profile.media != "none" or profile.topology != "client_server":
        return False
    if profile.traffic.server_to_client is None:
        return False
    up = profile.traffic.client_to_server
    if up is None or up.rate_hz == 0:
        return True
    return profile.schema_version == 2 and up.channel == "separate_requests"


@dataclass(frozen=True, slots=True)
class Split:
    """One question about one field, and what each side of it answers."""

    field: str
    text: str
    test: Callable[[dict[str, Feature]], bool]


def _splits(rows: Rows) -> Iterator[Split]:
    fields = sorted({field for _, features in rows for field in features})
    for field in fields:
        values = {features.get(field, False) for _, features in rows}
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        for value in sorted(values, key=str):
            if numeric:
                yield Split(field, f"{field} <= {value}", _at_most(field, value))
            else:
                yield Split(field, f"{field} == {value}", _equal(field, value))


def _at_most(field: str, value: Feature) -> Callable[[dict[str, Feature]], bool]:
    return lambda features: float(features[field]) <= float(value)


def _equal(field: str, value: Feature) -> Callable[[dict[str, Feature]], bool]:
    return lambda features: features.get(field, False) == value


def _side_answer(counts: Counter[str]) -> str:
    """The side's majority; a tie goes to SSE, the engine's answer for the class."""
    return "websocket" if counts["websocket"] > counts["sse"] else "sse"


@dataclass(frozen=True, slots=True)
class Fit:
    """What the splits achieve on a class of cases."""

    #: The split that agrees with most cases when chosen on all of them, and that count.
    in_sample: tuple[str, int]
    #: Cases answered right by the best split chosen without them (leave-one-out).
    leave_one_out: int
    #: The same per field: each case answered by the best split on that field alone.
    per_field: Counter[str]


def _agreement(yes: Counter[str], no: Counter[str]) -> int:
    return yes[_side_answer(yes)] + no[_side_answer(no)]


def fit(rows: Rows) -> Fit:
    """Every single-field split over ``rows``, in sample and leave-one-out."""
    # Each split's side counts over all cases; leaving one case out takes it off its side.
    table = []
    for split in _splits(rows):
        sides = [split.test(features) for _, features in rows]
        yes: Counter[str] = Counter(
            label for (label, _), side in zip(rows, sides, strict=True) if side
        )
        no: Counter[str] = Counter(
            label for (label, _), side in zip(rows, sides, strict=True) if not side
        )
        table.append((split, sides, yes, no))
    best = max(table, key=lambda entry: _agreement(entry[2], entry[3]))

    per_field: Counter[str] = Counter()
    overall = 0
    for index, (label, _) in enumerate(rows):
        best_by_field: dict[str, tuple[int, bool]] = {}
        best_overall = (-1, False)
        for split, sides, yes, no in table:
            side = sides[index]
            rest_yes, rest_no = Counter(yes), Counter(no)
            (rest_yes if side else rest_no)[label] -= 1
            score = _agreement(rest_yes, rest_no)
            answer = _side_answer(rest_yes if side else rest_no)
            # Strictly greater: among equal fits the first split found stands, whatever it
            # answers for the case left out (choosing by the answer would peek at the label).
            if score > best_by_field.get(split.field, (-1, False))[0]:
                best_by_field[split.field] = (score, answer == label)
            if score > best_overall[0]:
                best_overall = (score, answer == label)
        for field, (_, right_answer) in best_by_field.items():
            per_field[field] += right_answer
        overall += best_overall[1]
    return Fit((best[0].text, _agreement(best[2], best[3])), overall, per_field)


def main() -> None:
    rows: Rows = []
    engine_agrees = 0
    for case in load_corpus():
        if case.set != "real-world" or case.expected not in LABELS:
            continue
        profile = load_profile(case.path)
        if in_class(profile):
            rows.append((case.expected, features_of(profile)))
            engine_agrees += recommend(profile).protocol == case.expected
    labels = Counter(label for label, _ in rows)
    majority = labels.most_common(1)[0]
    print(
        f"class: {len(rows)} real-world cases, " + ", ".join(f"{k} {v}" for k, v in labels.items())
    )
    print(f"majority answer ({majority[0]}) agrees on {majority[1]} of {len(rows)}")
    print(f"the engine agrees on {engine_agrees} of {len(rows)}")
    result = fit(rows)
    text, count = result.in_sample
    print(f"best split fitted to all of them: {text}, agrees on {count} (in-sample)")
    print(f"best split, leave-one-out: agrees on {result.leave_one_out} of {len(rows)}")
    print("each field alone, leave-one-out (best first):")
    for field, right in result.per_field.most_common(8):
        print(f"  {right:4} of {len(rows)}  {field}")


if __name__ == "__main__":
    main()
