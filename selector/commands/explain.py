"""``selector explain RULE_ID``: one rule in full."""

from __future__ import annotations

import argparse

from selector.commands._options import add_matrix_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule_id", metavar="RULE_ID", help="a rule id from `selector rules`")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_matrix_argument(parser)


def run(args: argparse.Namespace) -> int:
    import difflib

    from selector.errors import UsageError
    from selector.render.rules import explain_text, rule_data
    from selector.rules.loading import load_matrix

    matrix = load_matrix(args.matrix)
    rule = matrix.by_id.get(args.rule_id)
    if rule is None:
        close = difflib.get_close_matches(args.rule_id, list(matrix.by_id), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else "; `selector rules` lists them"
        raise UsageError.single(f"no rule with id '{args.rule_id}'{hint}", file="selector explain")
    if args.format == "json":
        from selector.render.jsonfmt import dumps

        print(dumps(rule_data(rule)))
    else:
        print(explain_text(rule))
    return 0
