"""Helpers shared by the planner's commands (``plan``, ``lint``, ``config``).

Each of them takes ``--matrix`` (:mod:`selector.commands._options`), read here.

Light at import time like every command module: the profile and planner are imported inside.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selector.profile import Profile


def recommended_protocol(
    profile: Profile, matrix_files: Sequence[str] = (), *, file: str = "<profile>"
) -> str:
    """The decision engine's protocol for ``profile``, with the ``--matrix`` overlays applied.

    Raises :class:`selector.errors.NegativeAnswer` when every protocol is vetoed, located at
    ``file`` (the profile's path, as the user gave it).
    """
    from selector.builtin import recommend
    from selector.errors import NegativeAnswer
    from selector.rules.loading import load_matrix

    recommendation = recommend(profile, matrix=load_matrix(list(matrix_files)))
    if recommendation.protocol is None:
        vetoes = "; ".join(
            f"{rank.protocol}: {', '.join(rank.veto_reasons)}" for rank in recommendation.ranking
        )
        raise NegativeAnswer.single(
            f"every protocol is vetoed ({vetoes}); pass --protocol to plan one anyway",
            file=file,
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
    """``--protocol`` if given, else the protocol recommended under ``--matrix``."""
    chosen: str | None = args.protocol
    if chosen is not None:
        return chosen
    return recommended_protocol(profile, args.matrix, file=str(args.profile))
