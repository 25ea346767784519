"""``selector rules``: list the rules matrix (with overlays), its facts or its schema."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from selector.commands._options import add_matrix_argument
from selector.render.formats import OutputFormat, add_format_argument

if TYPE_CHECKING:
    from selector.rules.model import Matrix


def _table(matrix: Matrix) -> str:
    from selector.render.rules import rules_table

    return rules_table(matrix) + "\n"


def _json(matrix: Matrix) -> str:
    from selector.render.jsonfmt import dumps
    from selector.render.rules import rule_data

    return dumps([rule_data(r) for r in matrix.rules]) + "\n"


def _markdown(matrix: Matrix) -> str:
    from selector.render.rules import rules_markdown

    return rules_markdown(matrix)


#: Output format -> the whole listing of the matrix's rules.
RENDERERS: dict[OutputFormat, Callable[[Matrix], str]] = {
    OutputFormat.TEXT: _table,
    OutputFormat.JSON: _json,
    OutputFormat.MARKDOWN: _markdown,
}
FORMATS: tuple[OutputFormat, ...] = tuple(RENDERERS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_format_argument(parser, FORMATS)
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
    from selector.rules.loading import load_matrix

    sys.stdout.write(RENDERERS[args.format](load_matrix(args.matrix)))
    return 0
