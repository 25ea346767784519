"""GitHub Actions workflow-command annotations, so CI shows problems on the diff's lines."""

from __future__ import annotations

from collections.abc import Callable

from selector.errors import Problem
from selector.render.formats import OutputFormat

__all__ = ["PROBLEM_LINES", "github_annotation", "problem_text"]


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


def problem_text(problem: Problem) -> str:
    """``FILE:LINE:COL: field: message``, as a compiler says it."""
    return problem.format()


#: Output format -> one line for a problem, for the commands that list them (validate, lint).
PROBLEM_LINES: dict[OutputFormat, Callable[[Problem], str]] = {
    OutputFormat.TEXT: problem_text,
    OutputFormat.GITHUB: github_annotation,
}
