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


def _vocabulary(
    rows: list[list[str]], columns: tuple[str, ...], fmt: OutputFormat, text: Callable[[], str]
) -> str:
    """``--facts`` or ``--subjects`` in ``fmt``: JSON objects keyed by the column names
    (spaces as underscores), a Markdown table, or ``text()``, the table for people."""
    if fmt is OutputFormat.JSON:
        from selector.render.jsonfmt import dumps

        keys = [column.replace(" ", "_") for column in columns]
        return dumps([dict(zip(keys, row, strict=True)) for row in rows]) + "\n"
    if fmt is OutputFormat.MARKDOWN:
        from tabulate import tabulate

        return tabulate(rows, headers=list(columns), tablefmt="github") + "\n"
    return text() + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_format_argument(parser, FORMATS)
    add_matrix_argument(parser)
    # One listing per run: each of these replaces the rules listing.
    listing = parser.add_mutually_exclusive_group()
    listing.add_argument(
        "--facts", action="store_true", help="list the facts conditions and rationales may use"
    )
    listing.add_argument(
        "--subjects",
        action="store_true",
        help="list the subjects a rule's applies_to may name",
    )
    listing.add_argument(
        "--schema",
        choices=("matrix", "overlay"),
        help="print the JSON Schema of the matrix file or of an overlay file (JSON whatever "
        "--format says; --format markdown is refused)",
    )


def run(args: argparse.Namespace) -> int:
    if args.schema:
        from selector.errors import UsageError
        from selector.render.jsonfmt import dumps
        from selector.rules.schema import matrix_schema, overlay_schema

        if args.format is OutputFormat.MARKDOWN:
            raise UsageError.single("a JSON Schema is JSON: no markdown", path="--format")
        print(dumps(matrix_schema() if args.schema == "matrix" else overlay_schema()))
        return 0
    if args.subjects:
        from selector.render.rules import SUBJECT_COLUMNS, subject_rows, subjects_table

        sys.stdout.write(_vocabulary(subject_rows(), SUBJECT_COLUMNS, args.format, subjects_table))
        return 0
    if args.facts:
        from selector.render.rules import FACT_COLUMNS, fact_rows, facts_table

        sys.stdout.write(_vocabulary(fact_rows(), FACT_COLUMNS, args.format, facts_table))
        return 0
    from selector.rules.loading import load_matrix

    sys.stdout.write(RENDERERS[args.format](load_matrix(args.matrix)))
    return 0
