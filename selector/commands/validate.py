"""``selector validate``: check profile files and report every problem with its location."""

from __future__ import annotations

import argparse
import sys

from selector.render.formats import OutputFormat, add_format_argument

#: The formats of ``--format``; ``selector.render.annotations.PROBLEM_LINES`` renders each.
FORMATS: tuple[OutputFormat, ...] = (OutputFormat.TEXT, OutputFormat.GITHUB)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="profile files or folders")
    add_format_argument(
        parser,
        FORMATS,
        help="text: FILE:LINE:COL: field: message; github: GitHub Actions annotations",
    )


def run(args: argparse.Namespace) -> int:
    from selector.errors import EXIT_BAD_INPUT, EXIT_OK, ProfileError
    from selector.loading import expand_paths, load_profile
    from selector.render.annotations import PROBLEM_LINES

    line = PROBLEM_LINES[args.format]
    files = invalid = problems = 0
    for path in expand_paths(args.paths):
        files += 1
        try:
            load_profile(path)
        except ProfileError as exc:
            invalid += 1
            problems += len(exc.problems)
            for problem in exc.problems:
                print(line(problem))
    valid = files - invalid
    noun = "file" if files == 1 else "files"
    summary = f"{files} {noun} checked: {valid} valid, {invalid} invalid"
    if problems:
        summary += f" ({problems} problem{'s' if problems != 1 else ''})"
    print(summary, file=sys.stderr)
    if files == 0:
        print("no profile files found", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK if invalid == 0 else EXIT_BAD_INPUT
