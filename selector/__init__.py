"""selector: choose WebSocket, Server-Sent Events or WebRTC from a workload profile.

The public API is loaded lazily (module ``__getattr__``) so that ``selector --help`` and
commands that need little start fast: importing ``selector`` imports neither pydantic nor
aiohttp until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "run_verification": "selector.verify.runner",
    "VerifyOptions": "selector.verify.traffic",
    "VerifyReport": "selector.verify.verdict",
    "Profile": "selector.profile",
    "load_profile": "selector.loading",
    "load_profile_text": "selector.loading",
    "SelectorError": "selector.errors",
    "ProfileError": "selector.errors",
    "MatrixError": "selector.errors",
    "UsageError": "selector.errors",
    "HarnessError": "selector.errors",
    "Problem": "selector.errors",
    "profile_json_schema": "selector.schemas",
    "LifetimePlan": "selector.planner.model",
    "plan_lifetime": "selector.builtin",
    "WsClient": "selector.runtime.client",
    "SseClient": "selector.runtime.client",
    "ClientStoppedError": "selector.runtime.client",
    "ClientOptions": "selector.runtime.client",
    "recommend": "selector.builtin",
    "Recommendation": "selector.engine.recommendation",
    "recommendation_json_schema": "selector.engine.recommendation",
    "load_matrix": "selector.rules.loading",
    "Matrix": "selector.rules.model",
    "render_adr": "selector.render.adr",
    "Heartbeat": "selector.runtime.server.settings",
    "ServerSettings": "selector.runtime.server.settings",
    "running_server": "selector.runtime.server.app",
}

# Kept literal (not derived from _EXPORTS) so linters and type checkers can read it;
# tests/test_api.py checks that the two agree.
__all__ = [
    "ClientOptions",
    "ClientStoppedError",
    "HarnessError",
    "Heartbeat",
    "LifetimePlan",
    "Matrix",
    "MatrixError",
    "Problem",
    "Profile",
    "ProfileError",
    "Recommendation",
    "SelectorError",
    "ServerSettings",
    "SseClient",
    "UsageError",
    "VerifyOptions",
    "VerifyReport",
    "WsClient",
    "__version__",
    "load_matrix",
    "load_profile",
    "load_profile_text",
    "plan_lifetime",
    "profile_json_schema",
    "recommend",
    "recommendation_json_schema",
    "render_adr",
    "run_verification",
    "running_server",
]

if TYPE_CHECKING:
    from selector.builtin import plan_lifetime, recommend
    from selector.engine.recommendation import Recommendation, recommendation_json_schema
    from selector.errors import (
        HarnessError,
        MatrixError,
        Problem,
        ProfileError,
        SelectorError,
        UsageError,
    )
    from selector.loading import load_profile, load_profile_text
    from selector.planner.model import LifetimePlan
    from selector.profile import Profile
    from selector.render.adr import render_adr
    from selector.rules.loading import load_matrix
    from selector.rules.model import Matrix
    from selector.runtime.client import ClientOptions, ClientStoppedError, SseClient, WsClient
    from selector.runtime.server.app import running_server
    from selector.runtime.server.settings import Heartbeat, ServerSettings
    from selector.schemas import profile_json_schema
    from selector.verify.runner import run_verification
    from selector.verify.traffic import VerifyOptions
    from selector.verify.verdict import VerifyReport


def __getattr__(name: str) -> object:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'selector' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def defining_module(name: str) -> str:
    """The module that defines the public name ``name`` (for tools that read its source
    rather than import it)."""
    return _EXPORTS[name]


def __dir__() -> list[str]:
    return sorted(__all__)
