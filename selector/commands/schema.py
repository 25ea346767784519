"""``selector schema``: print the profile's JSON Schema."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    import json

    from selector.schemas import profile_json_schema

    print(json.dumps(profile_json_schema(), indent=2))
    return 0
