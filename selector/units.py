"""How the package writes a duration for people: one spelling everywhere (``25 s``, ``1.5 s``).

Standard library only, and pure.
"""

from __future__ import annotations

__all__ = ["seconds_text"]


def seconds_text(value: float | None, *, none: str = "none") -> str:
    """``value`` seconds as ``25 s`` or ``1.5 s`` (``:g``: no trailing zeros); ``none`` when
    there is no value (a table cell passes ``-``)."""
    return none if value is None else f"{value:g} s"
