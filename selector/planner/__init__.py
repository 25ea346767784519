"""Connection-lifetime planner: heartbeats, hop timeouts, reconnect policy, proxy configs.

Pure (no I/O, no clock, no asyncio). Loaded lazily like the top-level package, so the CLI can
read the light vocabulary in :mod:`selector.planner.names` without importing pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS: dict[str, str] = {
    "LifetimePlan": "selector.planner.model",
    "CurrentSettings": "selector.planner.lint",
    "LintFinding": "selector.planner.lint",
    "lint_settings": "selector.planner.lint",
    "render_config": "selector.planner.configs",
}

__all__ = [
    "CurrentSettings",
    "LifetimePlan",
    "LintFinding",
    "lint_settings",
    "render_config",
]

if TYPE_CHECKING:
    from selector.planner.configs import render_config
    from selector.planner.lint import CurrentSettings, LintFinding, lint_settings
    from selector.planner.model import LifetimePlan


def __getattr__(name: str) -> object:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'selector.planner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
