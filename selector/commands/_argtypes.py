"""argparse ``type=`` converters shared by the commands (stdlib only, like every command's
top level). argparse turns their errors into ``selector CMD: error: ...`` and exit 2."""

from __future__ import annotations

import argparse
import math

__all__ = [
    "fraction",
    "listen_port",
    "non_negative_int",
    "port",
    "positive_float",
    "positive_int",
    "seconds",
]


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError("must be a finite number > 0")
    return value


def seconds(text: str) -> float:
    """A finite number of seconds >= 0 (0 meaning "none" where a command says so)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"seconds must be a finite number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("must be in (0, 1]")
    return value


def port(text: str) -> int:
    """A TCP port to bind, 0-65535 (0 asks the system for a free one)."""
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535 (0 picks a free port): {text!r}")
    return int(text)


def listen_port(text: str) -> int:
    """A TCP port another program will listen on, 1-65535."""
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1-65535): {text!r}")
    return int(text)
