"""The runtime's public names (the layering of its protocol core: tests/test_layering.py)."""

from __future__ import annotations

import selector


def test_runtime_names_are_exported_lazily() -> None:
    for name in ("Heartbeat", "ServerSettings", "running_server"):
        assert name in selector.__all__ and getattr(selector, name) is not None
