"""The library's entry points with the built-in tables filled in.

The core takes everything it reads as arguments: :func:`selector.engine.recommend.recommend`
a compiled :class:`~selector.rules.model.Matrix` (rules, companions, planner notes) and
:func:`selector.planner.solver.plan_lifetime` the planner-note rows. These fill in the
built-in matrix, which ships as package data and is compiled on first use, once per process
(:func:`selector.rules.loading.default_matrix`); that read is why they live outside the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector.engine.recommend import recommend as recommend_with
from selector.planner.solver import plan_lifetime as plan_lifetime_with
from selector.rules.loading import default_matrix

if TYPE_CHECKING:
    from selector.engine.recommendation import Recommendation
    from selector.planner.model import LifetimePlan
    from selector.profile import Profile
    from selector.rules.model import Matrix
    from selector.rules.values import Facts

__all__ = ["plan_lifetime", "recommend"]


def recommend(profile: Profile, *, matrix: Matrix | None = None) -> Recommendation:
    """Recommend a protocol for ``profile`` and explain every point of the score.

    ``matrix`` is ``None`` for the built-in rules, or a compiled :class:`Matrix`: the
    built-in rules extended by overlay files (:func:`selector.load_matrix` reads them) or
    by overlay text (:func:`selector.rules.loading.load_overlay_text`). No file, clock or
    socket is read beyond the built-in tables, once. Check ``result.protocol``: ``None``
    means every protocol is vetoed, and ``result.ranking`` says why. Raises
    :class:`selector.errors.ProfileError` for a non-finite number (``.inf``), and
    :class:`TypeError` for anything else given as ``matrix`` (read overlay files with
    :func:`selector.load_matrix`).
    """
    return recommend_with(profile, default_matrix() if matrix is None else matrix)


def plan_lifetime(profile: Profile, protocol: str, *, facts: Facts | None = None) -> LifetimePlan:
    """Plan heartbeats, hop timeouts, reconnects and replay for ``protocol`` over the path.

    ``protocol`` is ``"websocket"``, ``"sse"`` or ``"webrtc"`` (the plan then covers the
    signalling WebSocket, TURN and ICE consent). Raises :class:`UsageError` for any other
    protocol. The caller must check ``plan.problems``: a non-empty list means the constraints
    contradict each other and the plan cannot be applied as it stands. The built-in planner
    notes apply; ``facts`` are the profile's facts when the caller has them already.
    """
    return plan_lifetime_with(profile, protocol, default_matrix().notes, facts=facts)
