"""What changed between two lifetime plans, in words (for ``selector what-if``).

Pure: compares two plans, reads nothing.
"""

from __future__ import annotations

from selector.planner.model import HopPlan, LifetimePlan
from selector.units import seconds_text as _s

__all__ = ["plan_changes"]


def _hop_timeout(hop: HopPlan) -> float | None:
    """The idle timeout the plan has the hop run with: the value to set, else today's."""
    return hop.set_idle_timeout_s if hop.set_idle_timeout_s is not None else hop.idle_timeout_s


def plan_changes(before: LifetimePlan | None, after: LifetimePlan | None) -> list[str]:
    """One line per planned value that differs; empty when the plans agree."""
    if before is None or after is None:
        if before is after:
            return []
        return ["no lifetime plan before" if before is None else "no lifetime plan after"]
    if before.protocol != after.protocol:
        return [f"the plan is now for {after.protocol} (was {before.protocol})"]
    lines: list[str] = []
    if before.heartbeat_interval_s != after.heartbeat_interval_s:
        lines.append(
            f"heartbeat: {_s(before.heartbeat_interval_s)} -> {_s(after.heartbeat_interval_s)} "
            f"({after.heartbeat_bound_by})"
        )
    old_hops = {(h.index, h.kind): h for h in before.hops}
    for hop in after.hops:
        old = old_hops.get((hop.index, hop.kind))
        if old is None:
            lines.append(f"path[{hop.index}] {hop.kind}: new hop, {hop.action}")
            continue
        if _hop_timeout(old) != _hop_timeout(hop) or old.action != hop.action:
            lines.append(
                f"path[{hop.index}] {hop.kind}: idle timeout {_s(_hop_timeout(old))} "
                f"({old.action}) -> {_s(_hop_timeout(hop))} ({hop.action})"
            )
    rc_old, rc_new = before.reconnect, after.reconnect
    if rc_old.base_s != rc_new.base_s:
        lines.append(
            f"first reconnect window: {_s(rc_old.base_s)} -> {_s(rc_new.base_s)} (peak "
            f"{rc_old.peak_reconnect_rate_per_s:.0f} -> {rc_new.peak_reconnect_rate_per_s:.0f} "
            "new connections/s)"
        )
    pr_old, pr_new = before.planned_reconnect, after.planned_reconnect
    if (pr_old and pr_old.max_lifetime_s) != (pr_new and pr_new.max_lifetime_s):
        lines.append(
            "planned reconnect before a lifetime limit: "
            f"{_s(pr_old.max_lifetime_s if pr_old else None)} -> "
            f"{_s(pr_new.max_lifetime_s if pr_new else None)}"
        )
    if before.feasible != after.feasible:
        lines.append(
            "the plan can now be met"
            if after.feasible
            else f"the plan can no longer be met: {'; '.join(p.message for p in after.problems)}"
        )
    return lines
