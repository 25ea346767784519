"""One error family for everything a user can get wrong.

Every user-facing problem carries where it is (file, line, column, field path) and what is
wrong, so the CLI can print ``FILE:LINE:COL: field.path: message`` and a library caller can
inspect the same facts without parsing text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

__all__ = [
    "DEFAULT_FILE",
    "EXIT_BAD_INPUT",
    "EXIT_HARNESS",
    "EXIT_INTERRUPTED",
    "EXIT_NEGATIVE",
    "EXIT_OK",
    "HarnessError",
    "MatrixError",
    "NegativeAnswer",
    "Problem",
    "ProfileError",
    "SelectorError",
    "UsageError",
    "field_path",
    "undecodable_text",
]

#: The file a problem names when none holds it (text given to a function, an argument).
DEFAULT_FILE = "<input>"

#: Documented exit codes of the ``selector`` command.
EXIT_OK = 0
#: A negative answer: no viable protocol, lint findings, a contradicted verification.
EXIT_NEGATIVE = 1
#: Bad input or usage: an invalid profile, matrix or argument.
EXIT_BAD_INPUT = 2
#: The tool's own harness could not run here (a verification run's servers, proxies or
#: clients failed on this machine): neither bad input nor an answer about the profile.
EXIT_HARNESS = 3
#: Stopped by Ctrl-C (SIGINT) before finishing: the shell's 128 + signal number. ``serve``
#: and ``client`` take SIGINT as their normal stop and exit with their own code instead.
EXIT_INTERRUPTED = 130


def undecodable_text(raw: bytes, exc: UnicodeDecodeError) -> tuple[str, int, int]:
    """What to say about bytes that are not UTF-8, and the line and column of the first bad
    byte (``exc`` is the error decoding ``raw`` raised)."""
    line = raw[: exc.start].count(b"\n") + 1
    col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    return f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line, col


def field_path(loc: Sequence[str | int]) -> str:
    """A field's location as every problem spells it: ``infrastructure.path[0].kind``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Problem:
    """One located problem. ``line`` and ``col`` are 1-based; 0 means unknown.

    A plain class rather than a dataclass: ``dataclasses`` (with ``inspect``) would be the
    largest import of ``selector --help``.
    """

    __slots__ = ("col", "file", "line", "message", "path")

    def __init__(
        self, message: str, file: str = DEFAULT_FILE, line: int = 0, col: int = 0, path: str = ""
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.path = path

    def _key(self) -> tuple[str, str, int, int, str]:
        return (self.message, self.file, self.line, self.col, self.path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Problem(message={self.message!r}, file={self.file!r}, line={self.line}, "
            f"col={self.col}, path={self.path!r})"
        )

    def in_file(self, file: str) -> Problem:
        """The same problem, reported against ``file``."""
        return Problem(self.message, file, self.line, self.col, self.path)

    def format(self) -> str:
        """Render as ``FILE:LINE:COL: field.path: message`` (parts that are unknown drop out)."""
        where = self.file
        if self.line:
            where += f":{self.line}:{self.col or 1}"
        field_part = f"{self.path}: " if self.path else ""
        return f"{where}: {field_part}{self.message}"


class SelectorError(Exception):
    """Base of every error ``selector`` raises on purpose. Carries one or more problems."""

    def __init__(self, problems: list[Problem] | None = None) -> None:
        self.problems: list[Problem] = list(problems or [])
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems)

    @classmethod
    def single(
        cls, message: str, *, file: str = DEFAULT_FILE, line: int = 0, col: int = 0, path: str = ""
    ) -> Self:
        """Build an error holding a single problem."""
        return cls([Problem(message=message, file=file, line=line, col=col, path=path)])


class ProfileError(SelectorError):
    """A workload profile could not be read or is invalid."""


class MatrixError(SelectorError):
    """A rules matrix or an overlay could not be read or is invalid."""


class UsageError(SelectorError):
    """A command-line or API argument is invalid."""


class HarnessError(SelectorError):
    """The harness could not run on this machine: a verification run whose server, proxy or
    clients failed (a port, a process, a timeout), or a load generator that crashed. Not bad
    input and not a verdict on the protocol; the CLI exits with :data:`EXIT_HARNESS`."""


class NegativeAnswer(SelectorError):
    """Not bad input, but no answer the caller can use (for example every protocol is
    vetoed). The CLI prints the problems and exits with :data:`EXIT_NEGATIVE`."""
