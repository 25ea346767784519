"""Markdown rendering of recommendations, for docs pipelines and pull-request comments."""

from __future__ import annotations

from collections.abc import Iterable

from tabulate import tabulate

from selector.engine.recommendation import Recommendation
from selector.render.table import close_lines, no_rule_text, number

__all__ = ["render_markdown"]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _one(rec: Recommendation, level: int) -> str:
    mark = "#" * level
    out = [f"{mark} {rec.profile}", ""]
    if rec.protocol is None:
        out.append("**No viable protocol**: every protocol is vetoed.")
    else:
        margin = "" if rec.margin is None else f", margin {number(rec.margin)}"
        out.append(f"**Recommended: {rec.protocol}** (confidence {rec.confidence}{margin})")
        head, items = close_lines(rec)
        if head:
            out.extend(["", head, ""])
            out.extend(f"- {_escape(item)}" for item in items)
    out.append("")
    rows = [[r.protocol, number(r.score), "vetoed" if r.vetoed else ""] for r in rec.ranking]
    out.append(tabulate(rows, headers=["protocol", "score", "status"], tablefmt="github"))
    out.extend(["", f"{mark}# Reasons", ""])
    for ranked in rec.ranking:
        hits = [h for h in rec.hits if h.protocol == ranked.protocol]
        out.append(f"**{ranked.protocol}**")
        out.append("")
        if not hits:
            out.append(f"- {no_rule_text(rec, ranked.protocol)}")
        for h in hits:
            effect = "veto" if h.effect == "veto" else f"{h.delta:+g}"
            refs = " ".join(f"[{n}]({url})" for n, url in enumerate(h.refs, 1))
            out.append(f"- `{effect}` `{h.rule}`: {_escape(h.reason)} {refs}".rstrip())
        out.append("")
    out.extend([f"{mark}# Tipping points", ""])
    if rec.tipping_points:
        out.extend(f"- {t.description}" for t in rec.tipping_points)
    else:
        out.append("- none: no single change of one field changes the winner")
    if rec.protocol is not None and rec.companions:
        out.extend(["", f"{mark}# What {rec.protocol} needs alongside it", ""])
        out.extend(f"- **{c.component}**: {c.reason}" for c in rec.companions)
    if rec.plan is not None:
        from selector.render.plan import render_plan_markdown

        out.extend(["", render_plan_markdown(rec.plan, rec.profile, level=level + 1).rstrip("\n")])
    out.extend(["", f"{mark}# Bandwidth estimate", ""])
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
    out.append(
        tabulate(
            rows,
            headers=["protocol", "down B/s", "up B/s", "overhead", "heartbeat per connection"],
            tablefmt="github",
        )
    )
    prov = rec.provenance
    out.extend(
        [
            "",
            f"<sub>selector {prov.tool_version}, matrix sha256 `{prov.matrix_sha256[:16]}`, "
            f"overlays: {', '.join(prov.overlays) or 'none'}</sub>",
        ]
    )
    return "\n".join(out)


def render_markdown(recs: Iterable[Recommendation], *, level: int = 2) -> str:
    """One Markdown section per recommendation, headed at ``level`` (its parts one deeper)."""
    return "\n\n".join(_one(r, level) for r in recs) + "\n"
