"""Helpers shared by the planner's commands (``plan``, ``lint``, ``config``).

Light at import time like every command module: the profile and planner are imported inside.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selector.profile import Profile

#: Used when the decision engine is not installed.
FALLBACK_PROTOCOL = "websocket"


def recommended_protocol(profile: Profile) -> str:
    """The decision engine's protocol for ``profile``.

    Falls back to ``"websocket"`` with a note on stderr while ``selector.scoring`` is missing.
    """
    try:
        from selector.scoring import recommend  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print(
            f"note: the decision engine (selector.scoring) is not available; planning for "
            f"{FALLBACK_PROTOCOL} (pass --protocol to choose)",
            file=sys.stderr,
        )
        return FALLBACK_PROTOCOL
    protocol: str = recommend(profile).protocol
    return protocol


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
