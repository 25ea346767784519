"""Helpers shared by the planner's commands (``plan``, ``lint``, ``config``).

Light at import time like every command module: the profile and planner are imported inside.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selector.profile import Profile


def recommended_protocol(profile: Profile) -> str:
    """The decision engine's protocol for ``profile``.

    Raises :class:`selector.errors.NegativeAnswer` when every protocol is vetoed.
    """
    from selector.engine.recommend import recommend
    from selector.errors import NegativeAnswer

    recommendation = recommend(profile)
    if recommendation.protocol is None:
        vetoes = "; ".join(
            f"{rank.protocol}: {', '.join(rank.veto_reasons)}" for rank in recommendation.ranking
        )
        raise NegativeAnswer.single(
            f"every protocol is vetoed ({vetoes}); pass --protocol to plan one anyway",
            file=str(getattr(profile, "name", "<profile>")),
        )
    return recommendation.protocol


def add_protocol_argument(parser: argparse.ArgumentParser, choices: tuple[str, ...]) -> None:
    """``--protocol``: defaults to the recommended protocol."""
    parser.add_argument(
        "--protocol",
        choices=choices,
        default=None,
        help="protocol to plan for (default: the one selector recommends for the profile)",
    )


def protocol_for(args: argparse.Namespace, profile: Profile) -> str:
    """``--protocol`` if given, else the recommended protocol."""
    chosen: str | None = args.protocol
    return chosen if chosen is not None else recommended_protocol(profile)
