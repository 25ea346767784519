"""``selector migrate``: rewrite a version 1 profile as version 2, comments kept."""

from __future__ import annotations

import argparse
import sys

from selector.commands._output import OUT_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    parser.add_argument(
        "--out",
        metavar="FILE",
        default=None,
        help="write the migrated profile to FILE (atomically; may be PROFILE itself) "
        f"instead of stdout; {OUT_HELP}",
    )


def run(args: argparse.Namespace) -> int:

    from selector.builtin import recommend
    from selector.commands._output import write_output
    from selector.engine.recommend import unstated
    from selector.errors import EXIT_OK
    from selector.loading import load_profile_text
    from selector.migration import MIGRATION_NOTE, upgrade_text, v2_questions
    from selector.profile import SCHEMA_VERSION
    from selector.yaml_edit import read_source

    # The text as written, byte-order mark and line endings included: the output keeps them.
    text, _ = read_source(args.profile)
    profile = load_profile_text(text.encode("utf-8"), args.profile)
    if profile.schema_version == SCHEMA_VERSION:
        print(
            f"{args.profile}: already schema_version {SCHEMA_VERSION}; nothing to change",
            file=sys.stderr,
        )
        migrated = text
    else:
        migrated = upgrade_text(text, args.profile)
        # The edit cannot change meaning, but a migrated file that fails to load must never
        # be written: check it like any profile.
        upgraded = load_profile_text(migrated.encode("utf-8"), args.profile)
        print(f"{args.profile}: {MIGRATION_NOTE}", file=sys.stderr)
        rec = recommend(upgraded)
        questions = v2_questions(rec.tipping_points, unstated(upgraded))
        if questions:
            print(
                f"{args.profile}: version {SCHEMA_VERSION} fields can now say what decides "
                f"this profile (answer now: {rec.protocol or 'none'}); set them where they hold:",
                file=sys.stderr,
            )
            for question in questions:
                print(f"  - {question}", file=sys.stderr)
    write_output(migrated, args.out)
    return EXIT_OK
