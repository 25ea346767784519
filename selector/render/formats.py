"""Output formats: one name per format, the same on every command's ``--format``.

A command declares the formats it supports as a tuple of :class:`OutputFormat` members, maps
each member to its renderer in a dict, and gets its option from :func:`add_format_argument`.
Only the standard library is imported here: ``selector COMMAND --help`` imports this module.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from enum import StrEnum

__all__ = ["ALIASES", "OutputFormat", "add_format_argument", "format_named"]


class OutputFormat(StrEnum):
    """What ``--format`` selects; the value is the name typed on the command line."""

    #: For people: tables, sentences or ``FILE:LINE:COL`` lines, as the command's output is.
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    #: GitHub Actions workflow commands (``::error file=...``), one per problem.
    GITHUB = "github"


#: Other names ``--format`` accepts, kept for scripts written before the formats had one name
#: each: ``table`` was what recommend, what-if, rules and verify called ``text``.
ALIASES: dict[str, OutputFormat] = {"table": OutputFormat.TEXT}

_NAMED: dict[str, OutputFormat] = {**{f.value: f for f in OutputFormat}, **ALIASES}


def format_named(name: str) -> OutputFormat | None:
    """The format called ``name`` (its value or an alias), or None."""
    return _NAMED.get(name)


def add_format_argument(
    parser: argparse.ArgumentParser,
    supported: Sequence[OutputFormat],
    *,
    help: str = "output format",
    default: OutputFormat = OutputFormat.TEXT,
) -> None:
    """``--format`` choosing one of ``supported``; ``args.format`` is an :class:`OutputFormat`.

    An alias of a supported format is accepted for it (and named in the help); any other name,
    including a format of another command, is an invalid choice: argparse exits with 2.
    """
    aliases = [alias for alias, target in ALIASES.items() if target in supported]
    notes = [f"default {default.value}"]
    notes += [f"{alias!r} is another name for {ALIASES[alias].value!r}" for alias in aliases]

    def output_format(text: str) -> OutputFormat | str:
        chosen = format_named(text)
        if chosen is not None and chosen in supported:
            return chosen
        # Any other name stays as typed, for argparse to reject and quote as an invalid choice.
        return text

    parser.add_argument(
        "--format",
        type=output_format,
        # Plain strings: argparse lists them in the usage and its invalid-choice message.
        choices=tuple(f.value for f in supported),
        default=default,
        help=f"{help} ({'; '.join(notes)})",
    )
