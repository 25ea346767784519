"""``selector explain RULE_ID``: one rule in full."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from selector.commands._options import add_matrix_argument
from selector.render.formats import OutputFormat, add_format_argument

if TYPE_CHECKING:
    from selector.rules.model import Rule


def _text(rule: Rule) -> str:
    from selector.render.rules import explain_text

    return explain_text(rule)


def _json(rule: Rule) -> str:
    from selector.render.jsonfmt import dumps
    from selector.render.rules import rule_data

    return dumps(rule_data(rule))


#: Output format -> renderer of the one rule.
RENDERERS: dict[OutputFormat, Callable[[Rule], str]] = {
    OutputFormat.TEXT: _text,
    OutputFormat.JSON: _json,
}
FORMATS: tuple[OutputFormat, ...] = tuple(RENDERERS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule_id", metavar="RULE_ID", help="a rule id from `selector rules`")
    add_format_argument(parser, FORMATS)
    add_matrix_argument(parser)


def run(args: argparse.Namespace) -> int:
    import difflib

    from selector.errors import UsageError
    from selector.rules.loading import load_matrix

    matrix = load_matrix(args.matrix)
    rule = matrix.by_id.get(args.rule_id)
    if rule is None:
        close = difflib.get_close_matches(args.rule_id, list(matrix.by_id), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else "; `selector rules` lists them"
        raise UsageError.single(f"no rule with id '{args.rule_id}'{hint}", file="selector explain")
    print(RENDERERS[args.format](rule))
    return 0
