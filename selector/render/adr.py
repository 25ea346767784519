"""An Architecture Decision Record in the MADR layout, from a profile and its recommendation.

Pure: the date is an argument (the CLI passes today's; tests pass a fixed one), and the
verification evidence, when there is some, is passed in. Headings are MADR's own (Context and
Problem Statement, Decision Drivers, Considered Options, Decision Outcome with Consequences and
Confirmation, Pros and Cons of the Options, More Information), so ADR tooling and readers who
know MADR find everything where they expect it. See https://adr.github.io/madr/.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from selector.engine.recommendation import Recommendation, RuleHit
from selector.profile import Profile
from selector.render.table import number
from selector.units import seconds_text

if TYPE_CHECKING:
    from selector.verify.verdict import VerifyReport

__all__ = ["ADR_STATUSES", "PROTOCOL_TITLES", "render_adr"]

#: Statuses ``selector adr --status`` offers (MADR allows more, set by hand later).
ADR_STATUSES: tuple[str, ...] = ("proposed", "accepted")

#: How each protocol is named as a MADR option.
PROTOCOL_TITLES: dict[str, str] = {
    "websocket": "WebSocket",
    "sse": "Server-Sent Events",
    "webrtc": "WebRTC",
}
_PROTOCOL_SPECS: dict[str, str] = {
    "websocket": "RFC 6455: one upgraded TCP connection, messages both ways",
    "sse": "WHATWG HTML: a streamed HTTP response, server to client; client messages as "
    "HTTP requests",
    "webrtc": "ICE, DTLS and SCTP data channels or SRTP media, peer to peer or to a server, "
    "with a signalling channel and TURN relays",
}


def _title(protocol: str | None) -> str:
    return PROTOCOL_TITLES.get(protocol or "", "none")


def _effect(hit: RuleHit) -> str:
    return "veto" if hit.effect == "veto" else f"{hit.delta:+g}"


def _clause(text: str) -> str:
    """A reason continuing ``because ...``: a lower-case start unless it is an acronym."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _context(profile: Profile) -> list[str]:
    """The profile's facts, in words, for Context and Problem Statement."""
    traffic, delivery, scale, infra = (
        profile.traffic,
        profile.delivery,
        profile.scale,
        profile.infrastructure,
    )
    lines = []
    down = traffic.server_to_client
    if down is not None and down.rate_hz > 0:
        lines.append(
            f"Server to client: {number(down.rate_hz)} messages/s per connection of about "
            f"{number(down.payload_bytes)} bytes ({traffic.encoding})."
        )
    else:
        lines.append("Server to client: no messages.")
    up = traffic.client_to_server
    if up is not None and up.rate_hz > 0:
        ack = ", each acknowledged by the server" if up.needs_ack else ""
        who = "per client"
        if up.sending_share < 1:
            who = (
                f"per sending client ({number(up.sending_share)} of the connections send; "
                "the others only receive)"
            )
        lines.append(
            f"Client to server: {number(up.rate_hz)} messages/s {who} of about "
            f"{number(up.payload_bytes)} bytes{ack}."
        )
    else:
        lines.append("Client to server: no messages.")
    resume = "must resume after a reconnect" if delivery.resume else "need not resume"
    lines.append(
        f"Delivery: {delivery.guarantee.replace('_', ' ')}, p99 latency within "
        f"{number(delivery.latency_p99_ms)} ms; a client {resume}."
    )
    if profile.media != "none" or profile.topology != "client_server":
        lines.append(f"Media: {profile.media.replace('_', ' and ')}; topology: {profile.topology}.")
    lines.append(f"Clients: {', '.join(profile.clients)}; authentication: {profile.auth}.")
    lines.append(
        f"Scale: {number(scale.concurrent_connections)} concurrent connections, each event "
        f"fanned out to {number(scale.fan_out)} receivers, {scale.streams_per_client} "
        f"stream(s) per client."
    )
    if infra.path:
        hops = ", then ".join(
            hop.kind
            + (f" (idle timeout {seconds_text(hop.idle_timeout_s)})" if hop.idle_timeout_s else "")
            for hop in infra.path
        )
        lines.append(f"Path from the client: {hops}; timeout control: {infra.timeout_control}.")
    else:
        lines.append("Path from the client: no proxy or load balancer declared.")
    network = [
        f"HTTP/{infra.http_version}",
        "UDP " + ("allowed" if infra.udp_allowed else "blocked"),
    ]
    hosting = infra.effective_hosting
    if hosting == "serverless_no_socket":
        network.append("serverless backend")
    elif hosting == "managed_socket_service":
        protocols = " and ".join(infra.effective_managed_protocols)
        network.append(f"serverless backend behind a managed service holding {protocols}")
    if infra.restrictive_networks:
        network.append("clients behind restrictive corporate networks")
    lines.append(f"Network: {', '.join(network)}.")
    return [f"* {line}" for line in lines]


def _unique_rules(hits: Iterable[RuleHit]) -> list[RuleHit]:
    seen: dict[str, RuleHit] = {}
    for hit in hits:
        seen.setdefault(hit.rule, hit)
    return list(seen.values())


def _deciding(rec: Recommendation) -> tuple[str | None, list[tuple[str, float | None, str]]]:
    """The runner-up and, per rule, how much it moved the winner ahead of it (None: a veto of
    the runner-up), strongest first; rules that favoured the runner-up are left out."""
    if rec.protocol is None:
        return None, []
    others = [r for r in rec.ranking if r.protocol != rec.protocol]
    runner_up = next((r.protocol for r in others if not r.vetoed), others[0].protocol)
    factors: list[tuple[str, float | None, str]] = []
    for rule in _unique_rules(rec.hits):
        mine = [h for h in rec.hits if h.rule == rule.rule and h.protocol == rec.protocol]
        theirs = [h for h in rec.hits if h.rule == rule.rule and h.protocol == runner_up]
        if any(h.effect == "veto" for h in theirs):
            factors.append((rule.rule, None, theirs[0].reason))
            continue
        lead = sum(h.delta for h in mine) - sum(h.delta for h in theirs)
        if lead > 0:
            factors.append((rule.rule, lead, (mine or theirs)[0].reason))
    factors.sort(key=lambda f: -(f[1] if f[1] is not None else float("inf")))
    return runner_up, factors


def _outcome(rec: Recommendation) -> list[str]:
    if rec.protocol is None:
        reasons = "; ".join(
            f"{_title(r.protocol)}: {' / '.join(r.veto_reasons)}" for r in rec.ranking
        )
        return [
            "No option is chosen: every considered option is vetoed for this workload as "
            f"profiled. {reasons}",
            "",
            "Change the workload or its infrastructure (see What would reverse this decision) "
            "and record the decision again.",
        ]
    winner = rec.ranked(rec.protocol)
    runner_up, factors = _deciding(rec)
    assert runner_up is not None
    second = rec.ranked(runner_up)
    if second.vetoed:
        why = f"it is the only option not vetoed (score {number(winner.score)})"
    else:
        why = (
            f"it scores {number(winner.score)} against {number(second.score)} for "
            f"{_title(runner_up)}, the runner-up (margin {number(rec.margin)}, confidence "
            f"{rec.confidence})"
        )
    out = [f'Chosen option: "{_title(rec.protocol)}", because {why}.', ""]
    if factors:
        out += [f"Deciding factors against {_title(runner_up)}:", ""]
        for rule, lead, reason in factors:
            weight = f"vetoes {_title(runner_up)}" if lead is None else f"+{lead:g} for the choice"
            out.append(f"* `{rule}` ({weight}): {reason}")
        out.append("")
    if rec.close is not None:
        from selector.render.table import close_lines

        head, items = close_lines(rec)
        out += [head, "", *(f"* {item}" for item in items), ""]
    return out


def _consequences(rec: Recommendation) -> list[str]:
    out = ["### Consequences", ""]
    if rec.protocol is not None:
        for hit in (h for h in rec.hits if h.protocol == rec.protocol):
            if hit.effect == "score":
                verdict = "Good" if hit.delta > 0 else "Bad"
                out.append(f"* {verdict}, because {_clause(hit.title)} (`{hit.rule}`)")
        for problem in rec.plan.problems if rec.plan is not None else ():
            out.append(
                f"* Bad, because the operational plan cannot be met as the path stands: "
                f"{problem.message} (fix: {problem.fix})"
            )
        for companion in rec.companions:
            out.append(
                f"* Neutral, because it needs {companion.component} alongside it: "
                f"{companion.reason}"
            )
        out.append("")
    if rec.plan is not None:
        from selector.render.plan import render_plan_markdown

        out += ["#### Operational plan", ""]
        out += [
            "Load balancers and proxies drop idle connections without a FIN or RST, so neither "
            "side learns the connection is gone unless it keeps it busy and watches for "
            "silence. Configure the following (`selector plan` prints it, `selector config` "
            "writes the proxy settings):",
            "",
        ]
        plan_text = render_plan_markdown(rec.plan, rec.profile, level=4)
        # The plan's own title repeats this section's; keep its body only.
        out += plan_text.partition("\n")[2].strip("\n").splitlines()
        out.append("")
    out += ["#### What would reverse this decision", ""]
    if rec.tipping_points:
        out += [f"* {t.description}" for t in rec.tipping_points]
        out += [
            "",
            "Each is the nearest single change of one profile field that changes the "
            "outcome; re-run `selector adr` if the workload moves past one.",
        ]
    else:
        out.append("* No single change of one profile field changes the outcome.")
    out.append("")
    return out


def _confirmation(rec: Recommendation, evidence: VerifyReport | None) -> list[str]:
    out = ["### Confirmation", ""]
    if evidence is None:
        out += [
            "Not verified in this record. `selector adr PROFILE --verify` runs the workload "
            "through the reference runtime on loopback, behind a proxy that drops connections "
            "silently, and records the evidence here.",
            "",
        ]
    else:
        from selector.render.verify import (
            checks_markdown,
            control_sentence,
            sample_sentence,
            verdict_lines,
        )

        outcome = evidence.verdict.outcome.replace("_", " ")
        out.append(f"Verified by `selector verify`: **{outcome}**.")
        out += ["", *verdict_lines(evidence)[1:]]
        out += [
            f"{sample_sentence(evidence)}; each protocol run with the plan's settings and as a "
            "naive control without heartbeats, through a proxy that drops idle connections "
            "silently.",
            "",
        ]
        for candidate in evidence.candidates:
            if not candidate.verified:
                out += [f"{_title(candidate.protocol)}: not verified: {candidate.reason}.", ""]
                continue
            title = f"{_title(candidate.protocol)} ({control_sentence(candidate)}):"
            out += [title, "", *(f"* {note}" for note in candidate.notes)]
            out += ["", checks_markdown(candidate), ""]
    if rec.plan is not None and rec.plan.assumptions:
        out += ["Before relying on the operational plan, confirm these assumed values:", ""]
        out += [
            f"* `infrastructure.path[{a.hop_index}].{a.field}` ({a.kind}) assumed "
            f"{seconds_text(a.value)}: {a.reason}"
            for a in rec.plan.assumptions
        ]
        out.append("")
    return out


def _pros_and_cons(rec: Recommendation) -> list[str]:
    out = ["## Pros and Cons of the Options", ""]
    for ranked in rec.ranking:
        status = "vetoed" if ranked.vetoed else f"score {number(ranked.score)}"
        out += [f"### {_title(ranked.protocol)}", "", f"{_PROTOCOL_SPECS[ranked.protocol]}.", ""]
        hits = [h for h in rec.hits if h.protocol == ranked.protocol]
        for hit in sorted(hits, key=lambda h: (h.effect != "veto", -h.delta)):
            if hit.effect == "veto":
                out.append(f"* Bad, because it is ruled out: {hit.reason} (`{hit.rule}`, veto)")
            else:
                verdict = "Good" if hit.delta > 0 else "Bad"
                reason = _clause(hit.reason)
                out.append(f"* {verdict}, because {reason} (`{hit.rule}`, {_effect(hit)})")
        if not hits:
            out.append("* Neutral, because no rule of the matrix applies to it for this workload")
        band = next((b for b in rec.bandwidth if b.protocol == ranked.protocol), None)
        if band is not None:
            out.append(
                f"* Neutral, because it would carry about "
                f"{number(band.downstream_bytes_per_s, whole=True)} B/s down and "
                f"{number(band.upstream_bytes_per_s, whole=True)} B/s up at peak "
                f"({band.overhead_percent:g} % framing overhead)"
            )
        out += ["", f"Result: {status}.", ""]
    return out


def _more_information(rec: Recommendation, profile_file: str | None) -> list[str]:
    prov = rec.provenance
    out = [
        "## More Information",
        "",
        f"* Generated by selector {prov.tool_version} from "
        + (f"`{profile_file}`" if profile_file else f"the profile `{rec.profile}`")
        + "; the scores, reasons and plan come from the same engine as `selector recommend`.",
        f"* Rules matrix sha256: `{prov.matrix_sha256}`",
        f"* Overlays: {', '.join(f'`{o}`' for o in prov.overlays) or 'none'}",
    ]
    refs = sorted({ref for hit in rec.hits for ref in hit.refs})
    if refs:
        out += ["", "References cited by the rules that fired:", ""]
        out += [f"* <{ref}>" for ref in refs]
    return out


def render_adr(
    profile: Profile,
    rec: Recommendation,
    *,
    date: datetime.date,
    status: Literal["proposed", "accepted"] = "proposed",
    evidence: VerifyReport | None = None,
    profile_file: str | None = None,
) -> str:
    """The decision record for ``profile`` as MADR Markdown.

    ``rec`` must be ``recommend(profile)`` (with the same matrix the record should cite);
    ``date`` is the record's date (pass ``datetime.date.today()``: this function reads no
    clock). ``evidence`` is the report of :func:`selector.verify.runner.run_verification`,
    rendered under Confirmation; without it the record says it is unverified.
    ``profile_file`` names the profile's file under More Information.
    """
    from selector.render.chart import score_chart_mermaid

    if rec.protocol is None:
        title = f"No real-time transport fits {profile.name} as profiled"
    else:
        title = f"Use {_title(rec.protocol)} for {profile.name}"
    description = f"{profile.description.rstrip('.')}. " if profile.description else ""
    runner_up_options = [f"* {_title(r.protocol)}" for r in rec.ranking]
    drivers = [f"* {hit.title} (`{hit.rule}`)" for hit in _unique_rules(rec.hits)]
    if rec.plan is not None:
        drivers.append(
            f"* Connections must survive every idle timeout on the path and detect silent drops "
            f"(heartbeat {seconds_text(rec.plan.heartbeat_interval_s)}, set by "
            f"{rec.plan.heartbeat_bound_by})"
        )
    out = [
        "---",
        f"status: {status}",
        f"date: {date.isoformat()}",
        "---",
        "",
        f"# {title}",
        "",
        "## Context and Problem Statement",
        "",
        f"{description}Which transport should `{profile.name}` use for its real-time traffic: "
        "WebSocket, Server-Sent Events or WebRTC? The workload, as profiled:",
        "",
        *_context(profile),
        "",
        "## Decision Drivers",
        "",
        *(drivers or ["* No rule of the matrix applies to this workload"]),
        "",
        "## Considered Options",
        "",
        *runner_up_options,
        "",
        "## Decision Outcome",
        "",
        *_outcome(rec),
        score_chart_mermaid(rec),
        "",
        *_consequences(rec),
        *_confirmation(rec, evidence),
        *_pros_and_cons(rec),
        *_more_information(rec, profile_file),
    ]
    return "\n".join(out).rstrip("\n") + "\n"
