"""Options shared by several commands, so each is spelled, documented and read one way.

Stdlib only at import time, like every command module's top level.
"""

from __future__ import annotations

import argparse

__all__ = ["add_from_argument", "add_matrix_argument"]


def add_matrix_argument(parser: argparse.ArgumentParser) -> None:
    """``--matrix FILE`` (repeatable): org overlays extending the built-in rules.

    Every command that decides a protocol (recommend, what-if, plan, lint, config, adr,
    verify) takes it, so all of them answer from the same rules.
    """
    parser.add_argument(
        "--matrix",
        action="append",
        default=[],
        metavar="FILE",
        help="overlay extending the built-in rules matrix (repeatable; applied in order)",
    )


def add_from_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--from FILE...``: deployed configuration files (nginx, HAProxy, Envoy, Kubernetes
    Ingress, AWS ALB attributes JSON), read by ``selector.planner.sources``."""
    parser.add_argument(
        "--from",
        dest="sources",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help=help_text,
    )
