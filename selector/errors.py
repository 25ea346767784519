"""One error family for everything a user can get wrong.

Every user-facing problem carries where it is (file, line, column, field path) and what is
wrong, so the CLI can print ``FILE:LINE:COL: field.path: message`` and a library caller can
inspect the same facts without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_NEGATIVE",
    "EXIT_OK",
    "MatrixError",
    "NegativeAnswer",
    "Problem",
    "ProfileError",
    "SelectorError",
    "UsageError",
]

#: Documented exit codes of the ``selector`` command.
EXIT_OK = 0
#: A negative answer: no viable protocol, lint findings, a contradicted verification.
EXIT_NEGATIVE = 1
#: Bad input or usage: an invalid profile, matrix or argument.
EXIT_BAD_INPUT = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem. ``line`` and ``col`` are 1-based; 0 means unknown."""

    message: str
    file: str = "<input>"
    line: int = 0
    col: int = 0
    path: str = ""

    def format(self) -> str:
        """Render as ``FILE:LINE:COL: field.path: message`` (parts that are unknown drop out)."""
        where = self.file
        if self.line:
            where += f":{self.line}:{self.col or 1}"
        field_part = f"{self.path}: " if self.path else ""
        return f"{where}: {field_part}{self.message}"


@dataclass
class SelectorError(Exception):
    """Base of every error ``selector`` raises on purpose. Carries one or more problems."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems)

    @classmethod
    def single(
        cls, message: str, *, file: str = "<input>", line: int = 0, col: int = 0, path: str = ""
    ) -> SelectorError:
        """Build an error holding a single problem."""
        return cls([Problem(message=message, file=file, line=line, col=col, path=path)])


class ProfileError(SelectorError):
    """A workload profile could not be read or is invalid."""


class MatrixError(SelectorError):
    """A rules matrix or an overlay could not be read or is invalid."""


class UsageError(SelectorError):
    """A command-line or API argument is invalid."""


class NegativeAnswer(SelectorError):
    """Not bad input, but no answer the caller can use (for example every protocol is
    vetoed). The CLI prints the problems and exits with :data:`EXIT_NEGATIVE`."""
