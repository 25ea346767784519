"""The labelled corpus: real systems written as profiles, each labelled with the protocol its
builders chose and sourced in the file's header (format: ``selector/corpus.py``).

The report prints agreement overall and per set, the confusion matrix and every miss with its
scores, so a change of the matrix shows which cases it moved. Rules must never be tuned to a
corpus profile by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from selector.builtin import recommend
from selector.corpus import (
    CORPUS_DIR,
    DECIDED_BY,
    REASON_RULES,
    Agreement,
    CaseResult,
    CorpusCase,
    CorpusError,
    Support,
    evaluate,
    load_case,
    load_corpus,
)
from selector.loading import load_profile
from selector.protocols import PROTOCOLS
from selector.rules.loading import default_matrix
from tests.conftest import PROFILES

FILES = sorted(CORPUS_DIR.glob("*.yaml"))

#: The set written beside the rules: agreement must stay at or above this.
MIN_ORIGINAL_AGREEMENT = 0.90
#: The set collected afterwards from public sources, on systems the rules were not written for. A
#: floor, not a target: the current engine agrees on 1,025 of 1,234 (83 %). Twenty-two held-out
#: batches were added before the rules changed: 20 cases (16 agreed then), 31 cases (29), 30 v1
#: cases (24, then 25 once best-effort-tight-latency took the 200 ms minimum TCP retransmission
#: timeout for its bound), 30 v2 cases (23, then 24 with the new hop field buffers_streams), 78
#: cases in six sets (v2: 11 of 12, 10 of 12, 11 of 11 and 9 of 12; v1: 7 of 12 and 8 of 12), 7
#: systems whose connections a hub holds, written with managed_protocols (7 of 7), 34 cases in three
#: sets after that field and per_request (v2: 10 of 11 and 12 of 12; v1: 5 of 11) and 35 in three
#: more (v2: 10 of 12 and 11 of 12; v1: 8 of 11), 30 in three more v2 sets (7 of 10, 8 of 10, 10 of
#: 10) and 30 in three more (9 of 10, 9 of 10, 8 of 10), then 30 in three more (8 of 10, 8 of 10, 10
#: of 10) and 30 written as v1 in three more (8 of 10, 8 of 10, 8 of 10), then 30 more (two v1 sets,
#: 6 of 10 and 5 of 10, and a v2 set, 9 of 10), then 40 in four v2 sets (9, 9, 9 and 7 of 10) and 30
#: written as v1 in three more (7, 8 and 10 of 10), then 30 in three v2 sets (8, 9 and 9 of 10) and
#: 30 in three v1 sets (7, 7 and 5 of 10), then 20 in two v2 sets (8 and 9 of 10) and 20 in two v1
#: sets (9 and 7 of 10, then 8 of 9 once an audit dropped a case its cited code contradicts), then
#: 20 in two v2 sets (9 and 10 of 10) and 20 in two v1 sets (8 and 6 of 10), then 20 in two v2 sets
#: (8 and 8 of 10, then 7 of 8 and 8 of 10 once an audit dropped two cases whose workload the
#: sources contradict) and 20 in two v1 sets (8 and 7 of 10, then 8 and 8 of 10 with a corrected
#: profile), then 20 in two v2 sets (9 and 9 of 10) and 20 in two v1 sets (6 and 7 of 10), then 20
#: in two v2 sets (7 and 8 of 10, then 7 of 9 once an audit dropped a duplicate) and 20 in two v1
#: sets (6 and 9 of 10, then 5 of 9 once it dropped a case resting on contradictory unofficial
#: clients), then 20 in two v2 sets (7 and 10 of 10) and 20 in two v1 sets (7 and 9 of 10, then 7 of
#: 10 and 8 of 8 once an audit corrected clients and dropped a fork that duplicates a case and a
#: label its maintainer contradicts), then 20 in two v2 sets (9 and 10 of 10, then 8 of 9 once an
#: audit dropped a case whose only source it could not open) and 20 in two v1 sets (7 and 4 of 10),
#: then 20 in two v2 sets (8 and 8 of 10, then 7 of 9 once an audit dropped a case it could not
#: check) and 20 in two v1 sets (8 and 6 of 10, then 5 of 7 and 6 of 10 once it dropped three; with
#: small-messages-read-in-band, made after the first of those sets was scored, 7 of 7 and 8 of 10),
#: then, with it, 20 in two v1 sets (8 and 7 of 10) and 20 in two v2 sets (9 and 7 of 10, then 7 of
#: 8 once an audit dropped two), then 20 in two v1 sets (9 and 7 of 10, 6 and 4 without it; 8 of 9
#: and 6 of 9 once an audit dropped two) and 20 in two v2 sets (8 and 8 of 10), then 20 in two v1
#: sets (9 and 8 of 10, 6 and 7 without it; 8 of 9 and 8 of 10 once an audit dropped one) and 20 in
#: two v2 sets (9 and 8 of 10, then 8 of 9 and 8 of 10), then 40 in four v1 sets (8, 10, 5 of 9
#: and 6 of 10, then 6 of 9, 10 of 10, 5 of 9 and 5 of 9 once an audit dropped three and
#: corrected clients) and 20 in two v2 sets (10 and 9 of 10), before small-messages-read-in-band
#: took messages of exactly 300 B in, then, with it, 20 in two v1 sets (5 and 3 of 10) and 20 in
#: two v2 sets (10 and 7 of 10), then a v1 set (7 of 9) and a v2 set (7 of 10), then, with
#: sending_share, two v1 sets (6 of 8 and 9 of 11) and a v2 set (8 of 10), then two v1 sets (5 of
#: 9 and 6 of 10) and a v2 set (7 of 10), before small-messages-read-in-band took acknowledged
#: messages in, then, with it, two v1 sets (8 of 8 and 4 of 8), then, of systems whose builders
#: documented the design in writing, two v1 sets (7 of 8 and 9 of 10) and a v2 set (8 of 9 once
#: an audit dropped a duplicate), then two v1 sets (8 of 10 and 1 of 2) and a v2 set (5 of 6),
#: then two v2 sets (8 of 9 and 5 of 7), then two v1 sets (6 of 8 once an audit dropped two, and
#: 9 of 9 once it dropped one), then a v2 set (5 of 8), then two v2 sets (9 of 10, and 7 of 8
#: once an audit dropped one), then two v1 sets (8 of 8 once an audit dropped two, and 8 of 10),
#: then a v2 set (7 of 10) and a v1 set (9 of 9 once an audit dropped one), then two v2 sets (8
#: of 10, and 3 of 3 once an audit dropped two), then two v1 sets (9 of 10 once an audit dropped
#: one, and 8 of 10) and a v2 set (6 of 9 once an audit dropped one), then two v1 sets (8 of 8
#: once an audit dropped two, and 8 of 8 once it dropped two) and a v2 set (6 of 10), before
#: binary-over-sse weighed 4 (three binary push feeds then read WebSocket, as their teams chose),
#: then, with it, a v1 set (10 of 10) and two v2 sets (7 of 11 once an audit dropped three, and 9
#: of 10 once it dropped one), then, with no rule changed, two v2 sets (7 of 8 once an audit
#: dropped two, and 7 of 9 once it dropped one) and a v1 set (10 of 10), then two v2 sets (5 of 9
#: once an audit dropped one, and 9 of 10) and a v1 set (6 of 7 once it dropped one), then, with
#: the connection rules no longer reading per_request streams, two v2 sets (5 of 7 and 9 of 10)
#: and a v1 set (8 of 10), then two v2 sets (3 of 6, and 6 of 6 once an audit dropped two), then
#: two v2 sets (7 of 7 and 8 of 8, once audits dropped one each), then two v2 sets (6 of 7 and 5
#: of 8 once audits dropped two and one) and a v1 set (0 of 4 once it dropped three: four
#: push-only WebSocket feeds), then two v2 sets (5 of 5 and 6 of 6 once audits dropped one and
#: four) and a v1 set (4 of 5 once it dropped four), then two v2 sets (2 of 3 and 4 of 7 once
#: audits dropped two and two: push-only WebSocket feeds again) and a v1 set (6 of 6 once it
#: dropped one), then two v2 sets (3 of 5 and 12 of 12 once audits dropped one) and a v1 set
#: (4 of 5 once it dropped three), then two v2 sets (6 of 7 and 7 of 9 once audits dropped one)
#: and a v1 set (3 of 5 once it dropped two: one subscription each way that a v1 file cannot
#: place), then two v2 sets (3 of 4 and 7 of 7 once audits dropped one) and a v1 set (1 of 1
#: once it dropped four; docs/agreement.md, History). The floor sits two cases below (1,401 of
#: 1,687), so that a matrix change losing
#: real-world cases fails here while a few new, harder cases can still be added. Raise it as the
#: engine gains.
MIN_REAL_WORLD_AGREEMENT = 0.830
MIN_CASES = 1715
#: Where a case states its reasons, the share whose explanation cites a rule carrying one of them
#: that ranks the team's choice above its highest-scoring alternative: floors at the current figures
#: (26 of 28 original, 397 of 531 real-world cases that state a reason), per set. The real-world
#: share went from 83 % to 80 % over earlier sets, then to 74-79 % with the held-out cases of later
#: rounds (24 of 36, 10 of 13, 9 of 13, 10 of 16, 10 of 17, 7 of 10, 9 of 14, 5 of 8, 8 of 15, 1 of
#: 1, 2 of 2, 3 of 4, 1 of 2, 1 of 1, 2 of 6, 1 of 2, 2 of 3, 1 of 2 and 1 of 1, that state a reason
#: cite one) and with reading client messages of exactly 300 B as in-band (four SSE cases whose
#: reasons push-only rules carried lose them): reasons no rule carries (edge runtimes without TCP
#: sockets, Internet Explorer without EventSource, scale, which no rule sets between WebSocket and
#: SSE), v1 files whose low-latency reasons ride on messages a v1 profile cannot place on the
#: socket, and resume-built-into-sse standing aside where native apps are clients, and low-latency
#: or browser-support reasons of WebSocket feeds that no rule favouring WebSocket reads.
#: binary-over-sse weighing 4 took the original set from 27 to 26 and the real-world one from 379 to
#: 377 without a rule citing less: SSE fell below WebRTC in telemetry-ingest and in three real-world
#: cases (ably-realtime, longport-trade-push, streamlit-app-session; aws-iot-secure-tunneling gained
#: one the same way), so their highest-scoring alternative became WebRTC, and the rules carrying
#: their reasons (binary, high-rate upstream, in-band control) rank the team's WebSocket above SSE,
#: not above WebRTC.
MIN_REASON_CITED = {"original": 0.92, "real-world": 0.74}
#: Exact ties (equal scores of the top two viable protocols) over the example profiles and the
#: corpus: a ceiling at the current count, the issue's bar being 2 (webdev-dwds-injected-client-sse,
#: a held-out case: resume built into SSE against a POST every half second, with nothing read for
#: WebSocket; two held-out v1 cases, baemin-order-reception-sse: a rare 500 B POST for SSE against
#: native mobile clients; attorney-workbench-live-updates-sse, of a later held-out round: a rare
#: POST for SSE against the six connections a browser opens per origin over HTTP/1.1; and
#: notification-bell, an original case: resume and HTTP/2 for SSE against its acknowledged 80 B
#: mark-as-read message read as in-band since small-messages-read-in-band reads acknowledged
#: messages too, which decided wekan-board-meteor-ddp's tie and that of round Q's
#: energistics-etp-witsml-channel-streaming-websocket, both for the team's WebSocket). Reading
#: client messages of exactly 300 B as in-band decided two
#: (poll-everywhere-firehose-live-responses and streaminglive-church-chat-websocket, both the teams'
#: WebSocket). Reading small client messages a profile leaves unplaced as in-band
#: (small-messages-read-in-band) decided two ties, delivery-tracking's and
#: lnd-rest-websocket-streaming-rpcs's. Grading sse-http1-connection-limit by the connections the
#: streams leave took the count from 7 to 6; resume-built-into-sse standing aside for native apps
#: decided three ties and made one; best-effort-delivery stopping at a 1 s budget decided
#: upstash-redis-rest-subscribe-sse's tie between WebSocket and WebRTC; charging nothing for two
#: streams per browser decided nine ties of a rare POST or a push-only stream against them
#: (argo-cd-application-stream and eight more, seven of them SSE) and made one (upstash's, between
#: SSE and WebSocket); occasional-upstream-over-post reading client messages at exactly one a
#: second, which no rate rule read, decided that one and skytrace-flight-tracking-events-sse's. A
#: tie is broken by a documented principle but says the rules could not decide: fewer ties come from
#: better rules, never from a bonus point. Round AB's held-out sets brought two, each broken
#: towards the team's SSE: g5api-get5-match-live-updates-sse (push-only-stream +3 against five
#: streams per page over HTTP/1.1, -3) and graphql-yoga-subscriptions-sse (a rare POST for SSE
#: against a bearer header that browsers' EventSource and WebSocket both cannot send, and three
#: streams over HTTP/1.1). Round AC's brought one more, broken the same way:
#: empowernow-bff-workflow-config-events-sse (a rare POST for SSE against three streams per
#: page over HTTP/1.1).
MAX_EXACT_TIES = 7


@pytest.fixture(scope="module")
def corpus() -> list[CorpusCase]:
    return load_corpus()


@pytest.fixture(scope="module")
def agreement(corpus: list[CorpusCase]) -> Agreement:
    return evaluate(corpus)


def test_corpus_is_large_and_covers_every_protocol(corpus: list[CorpusCase]) -> None:
    assert len(corpus) >= MIN_CASES
    for protocol in PROTOCOLS:
        assert sum(c.expected == protocol for c in corpus) >= 5, f"few {protocol} cases"
    assert {c.set for c in corpus} == {"original", "real-world"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_case_is_sourced_and_loads(path: Path) -> None:
    case = load_case(path)
    assert case.sources, "no source URL"
    assert all(reason in DECIDED_BY for reason in case.decided_by)
    if case.set == "real-world":
        assert case.figures is not None, "say whether the figures come from the source"
        # A source that says what the team uses but not why gives no reasons: such a case
        # says so (quote: none stated) and counts for agreement, not for reasons cited.
        assert case.decided_by or case.quote is None, "name the reasons the source gives"
    assert load_profile(path).name == path.stem, "file name and profile name differ"


def test_no_two_cases_describe_the_same_system(corpus: list[CorpusCase]) -> None:
    systems = [c.system.lower() for c in corpus]
    assert len(systems) == len(set(systems))


def _report(agreement: Agreement) -> str:
    lines = [f"corpus agreement {agreement.summary()}"]
    for case_set in ("original", "real-world"):
        lines.append(f"  {case_set}: {agreement.only(case_set).summary()}")
    lines.append(f"reason cited {agreement.reason_summary()}")
    for case_set in ("original", "real-world"):
        lines.append(f"  {case_set}: {agreement.only(case_set).reason_summary()}")
    lines.append("confusion matrix (rows expected, columns engine):")
    lines += ["  " + "".join(f"{cell:>20}" for cell in row) for row in agreement.confusion_rows()]
    for miss in agreement.misses:
        lines.append(
            f"  miss [{miss.case.set}] {miss.case.name}: expected {miss.case.expected}, "
            f"got {miss.got} ({miss.scores_text()})"
        )
    return "\n".join(lines)


def test_agreement_with_the_original_set(agreement: Agreement) -> None:
    report = _report(agreement)
    print("\n" + report)
    assert agreement.only("original").ratio >= MIN_ORIGINAL_AGREEMENT, report


def test_agreement_with_the_real_world_set(agreement: Agreement) -> None:
    report = _report(agreement)
    assert agreement.only("real-world").ratio >= MIN_REAL_WORLD_AGREEMENT, report


def test_every_reason_maps_to_rules_of_the_default_matrix() -> None:
    rule_ids = {rule.id for rule in default_matrix().rules}
    assert set(REASON_RULES) == set(DECIDED_BY)
    for reason, rules in REASON_RULES.items():
        assert rules, f"{reason} maps to no rule"
        unknown = set(rules) - rule_ids
        assert not unknown, f"{reason} maps to rules the matrix lacks: {sorted(unknown)}"


@pytest.mark.parametrize("case_set", sorted(MIN_REASON_CITED))
def test_the_engine_cites_the_reasons_teams_state(agreement: Agreement, case_set: str) -> None:
    part = agreement.only(case_set)  # type: ignore[arg-type]
    uncited = [r.case.name for r in part.with_reasons if not r.reason_cited]
    assert part.reason_cited_ratio >= MIN_REASON_CITED[case_set], (
        f"{case_set}: {part.reason_summary()}; not cited: {', '.join(uncited)}"
    )


def test_a_reason_counts_only_when_its_rule_favours_the_team_choice(tmp_path: Path) -> None:
    # expected sse, decided-by push-only and http-simplicity: push-only-stream carries both
    case = load_case(_write(tmp_path, _GOOD))
    ranking = (("websocket", 1.0), ("sse", 0.0), ("webrtc", -3.0))  # rival: websocket
    against = CaseResult(case, "websocket", ranking, (Support("push-only-stream", "websocket", 3),))
    veto_rival = CaseResult(
        case, "sse", ranking, (Support("push-only-stream", "websocket", 0, True),)
    )
    veto_third = CaseResult(case, "sse", ranking, (Support("push-only-stream", "webrtc", 0, True),))
    gain = CaseResult(case, "sse", ranking, (Support("push-only-stream", "sse", 3),))
    other_rule = CaseResult(case, "sse", ranking, (Support("binary-over-sse", "websocket", -2),))
    assert not against.reason_cited
    assert veto_rival.reasons_cited == ("push-only", "http-simplicity")
    assert not veto_third.reason_cited, (
        "a veto of a third protocol does not argue against the rival"
    )
    assert gain.reasons_cited == ("push-only", "http-simplicity")
    assert not other_rule.reason_cited


def test_the_engine_s_confidence_means_something(agreement: Agreement) -> None:
    # High-confidence answers agree at least as often as medium ones, medium at least as often
    # as low ones, and high ones at 90 % or more (now 609 of 634, 96 %): a floor, not a target.
    rows = {row[0]: row for row in agreement.by_engine_confidence()[1:]}
    ratios = {}
    for level in ("high", "medium", "low"):
        part = [r for r in agreement.results if r.engine_confidence == level]
        assert part, f"no {level}-confidence answer over the corpus"
        ratios[level] = sum(r.agrees for r in part) / len(part)
        assert rows[level][1] == str(len(part))
    assert ratios["high"] >= ratios["medium"] >= ratios["low"], ratios
    assert ratios["high"] >= 0.90, ratios


#: Cases whose team's choice the engine ranks third, each with why. The issue's bar for
#: hidden sets is that a miss ranks the team's choice second, never third; this one broke it
#: when round AF was scored, and stays here as the evidence that it did (docs/agreement.md).
RANKED_THIRD = {
    # A v1 file: each widget's SSE stream answers one POSTed query and ends with it, which only
    # v2's per_request can say, so nine streams per dashboard read as held open over HTTP/1.1
    # and sse-http1-connection-exhaustion vetoes SSE.
    "langfuse-dashboard-query-progress-sse",
}


def test_the_team_choice_is_always_in_the_top_two(agreement: Agreement) -> None:
    # The bar for hidden sets: a miss may rank the team's choice second, never third.
    third = [
        r.case.name
        for r in agreement.results
        if r.case.expected not in [protocol for protocol, _ in r.scores[:2]]
    ]
    assert sorted(third) == sorted(RANKED_THIRD), "the team's choice ranks third: " + "; ".join(
        sorted(set(third) ^ RANKED_THIRD)
    )


def test_exact_ties_stay_rare() -> None:
    tied = []
    for path in sorted(PROFILES.glob("*.yaml")) + FILES:
        viable = [r for r in recommend(load_profile(path)).ranking if not r.vetoed]
        if len(viable) >= 2 and viable[0].score == viable[1].score:
            tied.append(path.stem)
    assert len(tied) <= MAX_EXACT_TIES, f"{len(tied)} exact ties: {', '.join(tied)}"


def test_every_real_world_miss_says_why(agreement: Agreement) -> None:
    silent = [m.case.name for m in agreement.only("real-world").misses if not m.case.miss_note]
    assert silent == [], "add a '# miss-note:' explaining the disagreement to: " + ", ".join(silent)


def test_no_case_the_engine_agrees_with_keeps_a_miss_note(agreement: Agreement) -> None:
    stale = [r.case.name for r in agreement.results if r.agrees and r.case.miss_note]
    assert stale == [], "the engine now agrees; remove the '# miss-note:' of: " + ", ".join(stale)


#: Words with which a miss-note clause names a rule that did not fire, to say why it did not.
_NOT_FIRED = re.compile(r"not apply|cannot apply|stands? aside|alone|starts")


def test_miss_notes_name_only_rules_that_fired(agreement: Agreement) -> None:
    """A miss-note is read as the engine's account of the case: every rule it names must be
    one that fired on it, unless the clause says the rule did not apply and why. Notes written
    against an older matrix go stale when a rule changes (thirteen did when two streams per
    browser stopped costing SSE anything and resume-built-into-sse stood aside for native
    apps); this catches them."""
    rule_ids = {rule.id for rule in default_matrix().rules}
    stale = []
    for result in agreement.results:
        note = result.case.miss_note
        if not note:
            continue
        fired = {support.rule for support in result.support}
        for clause in re.split(r"[.;:]\s", note):
            named = set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", clause)) & rule_ids
            if named - fired and not _NOT_FIRED.search(clause):
                stale.append(f"{result.case.name}: {', '.join(sorted(named - fired))}")
    assert stale == [], "miss-notes name rules that did not fire: " + "; ".join(stale)


# The header parser itself: a missing or unknown field is a located error, not a skip.

_GOOD = """\
# expected: sse
# system: Example feed
# set: real-world
# source: https://example.org/a
#   https://example.org/b
# quote: "we only push"
# confidence: medium
# figures: estimated
# decided-by: push-only, http-simplicity
# why: It only pushes. https://example.org/a
schema_version: 1
name: NAME
traffic:
  server_to_client: {rate_hz: 1, payload_bytes: 100}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "case.yaml"
    path.write_text(text.replace("NAME", "case"), encoding="utf-8")
    return path


def test_header_parses_into_a_typed_record(tmp_path: Path) -> None:
    case = load_case(_write(tmp_path, _GOOD))
    assert case.expected == "sse"
    assert case.sources == ("https://example.org/a", "https://example.org/b")
    assert case.quote == "we only push"
    assert case.decided_by == ("push-only", "http-simplicity")
    assert (case.confidence, case.figures, case.miss_note) == ("medium", "estimated", None)


@pytest.mark.parametrize(
    ("remove", "field"),
    [("# source:", "source"), ("# confidence:", "confidence"), ("# expected:", "expected")],
)
def test_header_without_a_required_field_is_rejected(
    tmp_path: Path, remove: str, field: str
) -> None:
    text = "\n".join(
        line
        for line in _GOOD.splitlines()
        if not line.startswith(remove) and line != "#   https://example.org/b"
    )
    with pytest.raises(CorpusError) as err:
        load_case(_write(tmp_path, text + "\n"))
    assert err.value.problems[0].path == field


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("# confidence: medium", "# confidence: sure", "not one of high, medium, low"),
        ("push-only, http-simplicity", "push-only, vibes", "not in the vocabulary"),
        ("# figures: estimated", "# colour: blue", "unknown header field"),
        ('"we only push"', '"' + "word " * 31 + '"', "at most 30"),
        ("https://example.org/a\n#   https://example.org/b", "example.org", "not a URL"),
    ],
)
def test_header_values_outside_the_vocabulary_are_rejected(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(CorpusError, match=message) as err:
        load_case(_write(tmp_path, _GOOD.replace(old, new, 1)))
    assert err.value.problems[0].line > 0
