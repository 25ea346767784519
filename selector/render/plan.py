"""Renderers of a :class:`~selector.planner.model.LifetimePlan`: text, json and markdown.

Each renderer takes the plan and a title (the profile's name) and returns the whole document
as a string. Problems and assumptions come first in every format: a reader who stops early
must still learn that the plan cannot be applied, or rests on values nobody confirmed.
"""

from __future__ import annotations

from collections.abc import Callable

from tabulate import tabulate

from selector.planner.model import LifetimePlan
from selector.render.formats import OutputFormat
from selector.render.jsonfmt import dumps
from selector.units import seconds_text

__all__ = ["PLAN_FORMATS", "render_plan", "render_plan_json", "render_plan_markdown"]


def _s(value: float | None) -> str:
    """Seconds in a table cell: ``-`` for none."""
    return seconds_text(value, none="-")


def _size(num_bytes: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if num_bytes >= factor:
            return f"{num_bytes / factor:.1f} {unit}"
    return f"{num_bytes} B"


def _liveness_lines(plan: LifetimePlan) -> list[str]:
    lines: list[str] = []
    ws = plan.websocket or (plan.webrtc.signalling if plan.webrtc else None)
    if ws is not None:
        label = "signalling WebSocket" if plan.webrtc else "WebSocket"
        lines += [
            f"{label}: server pings every {_s(ws.ping_interval_s)}, closes after "
            f"{_s(ws.pong_timeout_s)} without a pong (close timeout {_s(ws.close_timeout_s)})",
            f"server notices a dead connection within {_s(ws.server_detection_bound_s)}; "
            f"client times out after {_s(ws.client_timeout_s)} of silence and notices within "
            f"{_s(ws.client_detection_bound_s)}",
        ]
    if plan.sse is not None:
        sse = plan.sse
        lines += [
            f"SSE: server writes a ':' comment every {_s(sse.heartbeat_interval_s)}; "
            f"'retry:' drawn per stream from {sse.retry_min_ms}-{sse.retry_ms} ms "
            "(EventSource adds no jitter: the server spreads the reconnects, peak about "
            f"{sse.peak_reconnect_rate_per_s:.0f} streams/s after a mass drop)",
            f"client times out after {_s(sse.client_timeout_s)} without bytes and notices a "
            f"dead stream within {_s(sse.client_detection_bound_s)}",
            f"upstream POST connections: close after {_s(sse.upstream_keepalive_s)} idle, "
            "before any hop drops them",
        ]
    if plan.webrtc is not None:
        rtc = plan.webrtc
        relay = (
            "UDP is blocked: every session is relayed"
            if rtc.all_sessions_relayed
            else "roughly 15-22 % of sessions need a relay"
        )
        lines += [
            f"TURN: {relay}; offer {', '.join(rtc.turn_transports)}",
            f"ICE consent freshness: checks every ~{_s(rtc.consent_check_interval_s)}, path lost "
            f"after {_s(rtc.consent_timeout_s)} without an answer: restart ICE via signalling",
        ]
    lines.append(f"heartbeat {_s(plan.heartbeat_interval_s)}, set by {plan.heartbeat_bound_by}")
    return lines


def _hop_rows(plan: LifetimePlan) -> list[list[str]]:
    rows = []
    for hop in plan.hops:
        to_set = [f"idle {_s(hop.set_idle_timeout_s)}"] if hop.set_idle_timeout_s else []
        if hop.set_max_lifetime_s:
            to_set.append(f"lifetime {_s(hop.set_max_lifetime_s)}")
        rows.append(
            [
                str(hop.index),
                hop.kind,
                "yes" if hop.controllable else "no",
                _s(hop.idle_timeout_s),
                _s(hop.max_lifetime_s),
                hop.origin,
                hop.action,
                ", ".join(to_set) or "-",
                hop.setting,
            ]
        )
    return rows


_HOP_HEADERS = ["#", "kind", "operator controls", "idle today", "lifetime", "from", "action"]
_HOP_HEADERS += ["set", "setting"]


def _reconnect_lines(plan: LifetimePlan) -> list[str]:
    rc = plan.reconnect
    basis = {
        "path": f"the path's documented limit of {rc.accept_rate_per_s:g}/s",
        "profile": f"the servers' measured {rc.accept_rate_per_s:g}/s (scale.accept_rate_per_s)",
        "assumed": f"an ASSUMED server accept rate of {rc.accept_rate_per_s:g}/s; "
        "set scale.accept_rate_per_s to your measured rate",
    }[rc.accept_rate_from]
    lines = [
        f"exponential backoff with full jitter: attempt n waits random(0, min({_s(rc.cap_s)}, "
        f"{_s(rc.base_s)} x 2^n))" + (f"; base set by {rc.limited_by}" if rc.limited_by else ""),
        f"after a mass disconnect of {rc.mass_disconnect_connections} connections: peak about "
        f"{rc.peak_reconnect_rate_per_s:.0f} new connections/s, under {basis}",
    ]
    pr = plan.planned_reconnect
    if pr is not None:
        lines.append(
            f"planned reconnect: {pr.kind} (path[{pr.hop_index}]) ends connections after "
            f"{_s(pr.max_lifetime_s)}; open a replacement at a random point between "
            f"{_s(pr.reconnect_after_min_s)} and {_s(pr.reconnect_after_max_s)}, then close the "
            f"old one ({pr.steady_reconnect_rate_per_s:.1f} rotations/s overall)"
        )
    rb = plan.replay
    if rb is not None:
        lines.append(
            f"replay buffer (delivery.resume): outages up to {_s(rb.tolerated_outage_s)}: "
            f"{rb.events_per_connection} events / {_size(rb.bytes_per_connection)} per connection, "
            f"or a shared log of {rb.shared_log_events} events / {_size(rb.shared_log_bytes)}"
        )
    return lines


def _assumption_lines(plan: LifetimePlan) -> list[str]:
    return [
        f"path[{a.hop_index}] {a.kind}: {a.field} = {_s(a.value)} assumed ({a.reason}); "
        f"set infrastructure.path[{a.hop_index}].{a.field} to confirm or override"
        for a in plan.assumptions
    ]


def render_plan(plan: LifetimePlan, title: str) -> str:
    """Plain text for a terminal: summary lines and a hop table (tabulate)."""
    out = [f"Lifetime plan for {title}: {plan.protocol}"]
    if plan.problems:
        out.append("")
        out.append("CANNOT BE MET:")
        for p in plan.problems:
            out.append(f"  [{p.code}] {p.message}")
            out.append(f"    fix: {p.fix}")
    if plan.assumptions:
        out.append("")
        out.append("Assumptions (confirm or override in the profile):")
        out += [f"  {line}" for line in _assumption_lines(plan)]
    out.append("")
    out += _liveness_lines(plan)
    if plan.hops:
        out.append("")
        out.append(tabulate(_hop_rows(plan), headers=_HOP_HEADERS, tablefmt="simple"))
    out.append("")
    out += _reconnect_lines(plan)
    if plan.notes:
        out.append("")
        out.append("Notes:")
        out += [f"  - {note}" for note in plan.notes]
    return "\n".join(out) + "\n"


def render_plan_json(plan: LifetimePlan, title: str) -> str:
    """The plan as JSON: the model's own fields plus ``profile`` and ``feasible``."""
    document = {"profile": title, "feasible": plan.feasible, **plan.model_dump(mode="json")}
    return dumps(document) + "\n"


def _linked(source: str) -> str:
    """A source with its leading address as a Markdown link (the rest stays text)."""
    address, space, rest = source.partition(" ")
    if not address.startswith("https://"):
        return source
    return f"<{address}>{space}{rest}"


def render_plan_markdown(plan: LifetimePlan, title: str, *, level: int = 2) -> str:
    """Markdown for docs and pull requests (pipe tables); the title heading is at ``level``."""
    h = "#" * level
    out = [f"{h} Lifetime plan for `{title}`: {plan.protocol}", ""]
    if plan.problems:
        out += [f"{h}# Cannot be met", ""]
        out += [f"- **{p.code}**: {p.message}. *Fix:* {p.fix}." for p in plan.problems]
        out.append("")
    if plan.assumptions:
        out += [f"{h}# Assumptions to confirm", ""]
        out += [f"- {line}" for line in _assumption_lines(plan)]
        out.append("")
    out += [f"{h}# Heartbeat and detection", ""]
    out += [f"- {line}" for line in _liveness_lines(plan)]
    out.append("")
    if plan.hops:
        out += [f"{h}# Hops (outermost first)", ""]
        out.append(tabulate(_hop_rows(plan), headers=_HOP_HEADERS, tablefmt="pipe"))
        out.append("")
    out += [f"{h}# Reconnects", ""]
    out += [f"- {line}" for line in _reconnect_lines(plan)]
    sources = {hop.kind: hop.source for hop in plan.hops}
    if sources:
        out += ["", f"{h}# Sources of the hop defaults", ""]
        out += [f"- {kind}: {_linked(source)}" for kind, source in sources.items()]
    if plan.notes:
        out += ["", f"{h}# Notes", ""]
        out += [f"- {note}" for note in plan.notes]
    return "\n".join(out) + "\n"


#: Output format -> renderer, for ``selector plan --format``.
PLAN_FORMATS: dict[OutputFormat, Callable[[LifetimePlan, str], str]] = {
    OutputFormat.TEXT: render_plan,
    OutputFormat.JSON: render_plan_json,
    OutputFormat.MARKDOWN: render_plan_markdown,
}
