"""Fill a profile's hops from deployed configuration (``selector plan --from``). Pure."""

from __future__ import annotations

from dataclasses import dataclass

from selector.planner.sources.model import MeasuredHop, Timeout
from selector.profile import Hop, Profile

__all__ = ["FilledHop", "fill_hops"]


@dataclass(frozen=True)
class FilledHop:
    """One hop kind whose timeouts came from files, and the settings they came from."""

    kind: str
    idle: Timeout | None
    lifetime: Timeout | None
    #: ``True`` when the profile had no hop of this kind and one was added (innermost).
    added: bool


def _smallest(routes: list[MeasuredHop], protocol: str, role: str) -> Timeout | None:
    timeouts = [t for r in routes for t in r.timeouts if t.role == role and protocol in t.protocols]
    return min(timeouts, key=lambda t: t.seconds) if timeouts else None


def fill_hops(
    profile: Profile, routes: tuple[MeasuredHop, ...], protocol: str
) -> tuple[Profile, tuple[FilledHop, ...]]:
    """``profile`` with each hop kind the files describe set to the smallest timeouts in
    effect for ``protocol`` on the routes that carry it (a hop kind the profile lacks is
    added innermost), and what was filled from where."""
    kinds = list(dict.fromkeys(route.kind for route in routes))
    tagged = {r.origin for r in routes if protocol in r.carries}
    path = list(profile.infrastructure.path)
    filled: list[FilledHop] = []
    for kind in kinds:
        judged = [
            r for r in routes if r.kind == kind and r.carries_protocol(protocol, r.origin in tagged)
        ]
        idle = _smallest(judged, protocol, "idle")
        lifetime = _smallest(judged, protocol, "lifetime")
        update = {
            "idle_timeout_s": idle.seconds if idle else None,
            "max_lifetime_s": lifetime.seconds if lifetime else None,
        }
        present = [i for i, hop in enumerate(path) if hop.kind == kind]
        for index in present:
            path[index] = path[index].model_copy(update=update)
        if not present:
            path.append(
                Hop.model_validate({"kind": kind, **{k: v for k, v in update.items() if v}})
            )
        filled.append(FilledHop(kind, idle, lifetime, added=not present))
    infrastructure = profile.infrastructure.model_copy(update={"path": tuple(path)})
    return profile.model_copy(update={"infrastructure": infrastructure}), tuple(filled)
