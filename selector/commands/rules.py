"""``selector rules``: list the rules matrix (with overlays), its facts or its schema."""

from __future__ import annotations

import argparse

from selector.commands._options import add_matrix_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("table", "json", "markdown"), default="table", help="output format"
    )
    add_matrix_argument(parser)
    parser.add_argument(
        "--facts", action="store_true", help="list the facts conditions and rationales may use"
    )
    parser.add_argument(
        "--subjects",
        action="store_true",
        help="list the subjects a rule's applies_to may name",
    )
    parser.add_argument(
        "--schema",
        choices=("matrix", "overlay"),
        help="print the JSON Schema of the matrix file or of an overlay file",
    )


def run(args: argparse.Namespace) -> int:
    from selector.render.jsonfmt import dumps

    if args.schema:
        from selector.rules.schema import matrix_schema, overlay_schema

        print(dumps(matrix_schema() if args.schema == "matrix" else overlay_schema()))
        return 0
    if args.subjects:
        from selector.render.rules import subjects_table

        print(subjects_table())
        return 0
    if args.facts:
        from selector.render.rules import facts_table

        print(facts_table())
        return 0
    from selector.render.rules import rule_data, rules_markdown, rules_table
    from selector.rules.loading import load_matrix

    matrix = load_matrix(args.matrix)
    if args.format == "json":
        print(dumps([rule_data(r) for r in matrix.rules]))
    elif args.format == "markdown":
        print(rules_markdown(matrix), end="")
    else:
        print(rules_table(matrix))
    return 0
