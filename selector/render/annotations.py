"""GitHub Actions workflow-command annotations, so CI shows problems on the diff's lines."""

from __future__ import annotations

from selector.errors import Problem

__all__ = ["github_annotation"]


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem, level: str = "error") -> str:
    """One ``::error file=...,line=...,col=...::message`` line for ``problem``."""
    props = [f"file={_escape_property(problem.file)}"]
    if problem.line:
        props.append(f"line={problem.line}")
        props.append(f"col={problem.col or 1}")
    message = f"{problem.path}: {problem.message}" if problem.path else problem.message
    return f"::{level} {','.join(props)}::{_escape_data(message)}"
