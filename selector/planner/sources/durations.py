"""Durations as configuration files spell them (``45s``, ``1m30s``, ``500ms``, ``60``)."""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration", "parse_seconds"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")


def parse_duration(text: str, default_unit: str = "s") -> float | None:
    """Seconds in ``text``, or ``None`` when it is not a duration.

    ``default_unit`` applies to a bare number: seconds for nginx, milliseconds for HAProxy.
    """
    text = text.strip().strip('"').strip("'").lower()
    if not text:
        return None
    total, pos = 0.0, 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2) or default_unit]
        pos = match.end()
    # Hundreds of digits make float() infinite: not a timeout any proxy could hold.
    return total if math.isfinite(total) else None


_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_seconds(text: str) -> float | None:
    """A plain number of seconds (``60``, ``3.5``), or ``None``.

    ``float()`` alone would take ``nan``, ``inf``, ``-5`` and ``1e3``, none of which a proxy
    setting that expects seconds can hold.
    """
    text = text.strip().strip('"').strip("'")
    if _PLAIN_NUMBER.fullmatch(text) is None:
        return None
    seconds = float(text)
    return seconds if math.isfinite(seconds) else None
