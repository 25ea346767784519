"""``selector docs build|check``: generate the references and reports, or check they are current."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("build", "check"))
    parser.add_argument("--out", default="docs", help="docs folder (default: docs/)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from selector import docs_gen
    from selector.errors import EXIT_NEGATIVE, EXIT_OK, UsageError

    if args.action == "build":
        try:
            changed = docs_gen.build(Path(args.out))
        except OSError as exc:
            where = str(exc.filename or args.out)
            raise UsageError.single(f"cannot write: {exc.strerror or exc}", file=where) from None
        for path in changed:
            print(f"wrote {path}", file=sys.stderr)
        print(f"{len(changed)} file(s) updated under {args.out}", file=sys.stderr)
        return EXIT_OK
    if not Path(args.out).is_dir():
        # Nothing to compare against: a mistyped folder is bad usage, not stale docs.
        raise UsageError.single("not a folder: give the docs folder to check", file=args.out)
    stale = docs_gen.check(Path(args.out))
    for path in stale:
        print(
            f"{path}: stale or missing (or no longer generated); "
            f"run `selector docs build --out {args.out}`"
        )
    if stale:
        return EXIT_NEGATIVE
    print(f"docs under {args.out} are current", file=sys.stderr)
    return EXIT_OK
