"""Plain-text rendering of recommendations for terminals (tables via tabulate)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from tabulate import tabulate

from selector.engine.recommendation import Recommendation

__all__ = ["close_lines", "no_rule_text", "number", "render_table", "render_tables"]

_REASON_WIDTH = 64


def number(value: float | None, *, whole: bool = False) -> str:
    """``3`` for 3.0, ``0.25`` for 0.25, thousands separators, never an exponent;
    ``whole`` rounds to an integer first."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if whole:
        value = round(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _headline(rec: Recommendation) -> str:
    if rec.protocol is None:
        return f"{rec.profile}: no viable protocol (every protocol is vetoed)"
    margin = "" if rec.margin is None else f", margin {number(rec.margin)}"
    line = f"{rec.profile}: {rec.protocol} (confidence {rec.confidence}{margin})"
    head, items = close_lines(rec)
    if not head:
        return line
    return "\n".join([line, head, *(f"  {item}" for item in items)])


def no_rule_text(rec: Recommendation, protocol: str) -> str:
    """The reasons row of a protocol no rule scored. For the winner it says why it still
    ranks first, so a winner of score 0 does not read as a winner without a reason."""
    if protocol != rec.protocol:
        return "no rule fired"
    if rec.close is not None and rec.close.margin == 0:
        return "no rule fired: it ties on score and ranks first by the tie-break"
    return "no rule fired: it ranks first on what the rules below cost the others"


def close_lines(rec: Recommendation) -> tuple[str, list[str]]:
    """What a close call adds under the headline: a sentence, then deciding questions and the
    tie-break as items (empty when the answer is not close)."""
    if rec.close is None:
        return "", []
    c = rec.close
    if c.margin == 0:
        head = f"Close call: {rec.protocol} and {c.runner_up} tie on score."
    else:
        head = f"Close call: {rec.protocol} leads {c.runner_up} by {number(c.margin)} point."
    items = [f"decides it: {d}" for d in c.deciding]
    items.append(f"tie-break: {c.tie_break}")
    return head, items


def _ranking(rec: Recommendation) -> str:
    rows = [
        [n, r.protocol, number(r.score), "vetoed" if r.vetoed else ""]
        for n, r in enumerate(rec.ranking, 1)
    ]
    return tabulate(rows, headers=["rank", "protocol", "score", "status"], tablefmt="simple")


def _reasons(rec: Recommendation) -> list[str]:
    rows: list[list[str]] = []
    for ranked in rec.ranking:
        hits = [h for h in rec.hits if h.protocol == ranked.protocol]
        if not hits:
            rows.append([ranked.protocol, "", "", no_rule_text(rec, ranked.protocol)])
        for n, h in enumerate(hits):
            effect = "veto" if h.effect == "veto" else f"{h.delta:+g}"
            rows.append([ranked.protocol if n == 0 else "", effect, h.rule, h.reason])
    table = tabulate(
        rows,
        headers=["protocol", "effect", "rule", "reason"],
        tablefmt="simple",
        maxcolwidths=[None, None, None, _REASON_WIDTH],
    )
    return ["Reasons", *table.splitlines()]


def _bandwidth(rec: Recommendation) -> str:
    rows = [
        [
            b.protocol,
            number(b.downstream_bytes_per_s, whole=True),
            number(b.upstream_bytes_per_s, whole=True),
            f"{b.overhead_percent:g} %",
            f"{b.heartbeat_bytes_per_connection_per_s:g} B/s every {b.heartbeat_interval_s:g} s",
        ]
        for b in rec.bandwidth
    ]
    return tabulate(
        rows,
        headers=["protocol", "down B/s", "up B/s", "overhead", "heartbeat per connection"],
        tablefmt="simple",
    )


def render_table(rec: Recommendation) -> str:
    """One recommendation: ranking, reasons by protocol with rule ids, tipping points,
    companions, bandwidth, provenance."""
    out = [_headline(rec), "", _ranking(rec), ""]
    out.extend(_reasons(rec))
    out.append("")
    out.append("Tipping points")
    if rec.tipping_points:
        out.extend(f"  - {t.description}" for t in rec.tipping_points)
    else:
        out.append("  none: no single change of one field changes the winner")
    if rec.protocol is not None and rec.companions:
        out.append("")
        out.append(f"{rec.protocol} needs alongside it")
        out.extend(f"  - {c.component}: {c.reason}" for c in rec.companions)
    if rec.plan is not None:
        from selector.render.plan import render_plan

        out.extend(["", render_plan(rec.plan, rec.profile).rstrip("\n")])
    out.extend(["", "Bandwidth estimate (all connections, framing included)", _bandwidth(rec)])
    notes = sorted({n for b in rec.bandwidth for n in b.notes})
    out.extend(f"  note: {n}" for n in notes)
    prov = rec.provenance
    overlays = ", ".join(prov.overlays) or "none"
    out.extend(
        [
            "",
            f"selector {prov.tool_version}, matrix sha256 {prov.matrix_sha256[:16]}, "
            f"overlays: {overlays}",
        ]
    )
    return "\n".join(out)


def render_tables(recs: Sequence[Recommendation] | Iterable[Recommendation]) -> str:
    """Several recommendations, separated by a rule line."""
    return ("\n\n" + "=" * 78 + "\n\n").join(render_table(r) for r in recs)
