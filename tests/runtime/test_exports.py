"""The runtime's public names (the layering of its protocol core: tests/test_layering.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import selector
from tests.conftest import ROOT

#: Run in a fresh interpreter: which runtime modules are loaded after ``import selector``, and
#: after reading each runtime name from it; and whether each name is the defining module's.
_PROBE = """
import importlib, json, sys
import selector
modules = ("aiohttp", "selector.runtime.server.settings", "selector.runtime.server.app")
def loaded():
    return [m for m in modules if m in sys.modules]
report = {"at_import": loaded(), "cached_at_import": [], "names": {}}
for name, module in (
    ("Heartbeat", "selector.runtime.server.settings"),
    ("ServerSettings", "selector.runtime.server.settings"),
    ("running_server", "selector.runtime.server.app"),
):
    if name in vars(selector):
        report["cached_at_import"].append(name)
    value = getattr(selector, name)
    report["names"][name] = {
        "loaded": loaded(),
        "same": value is getattr(importlib.import_module(module), name),
        "cached": vars(selector).get(name) is value,
    }
print(json.dumps(report))
"""


def test_runtime_names_are_exported_lazily() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    report = json.loads(result.stdout)
    # Importing selector loads no runtime module, nor aiohttp; no name is bound before use.
    assert report["at_import"] == []
    assert report["cached_at_import"] == []
    # Each name loads its own module on first use (the server's app brings aiohttp) ...
    names = report["names"]
    assert "selector.runtime.server.settings" in names["Heartbeat"]["loaded"]
    assert "selector.runtime.server.app" not in names["ServerSettings"]["loaded"]
    assert {"aiohttp", "selector.runtime.server.app"} <= set(names["running_server"]["loaded"])
    for name, seen in names.items():
        assert name in selector.__all__
        # ... is the defining module's own object, and is bound for later look-ups.
        assert seen["same"] and seen["cached"], name


def test_client_options_are_the_keywords_both_clients_share() -> None:
    # ClientOptions repeats the shared constructor's keywords for type checkers: a keyword
    # added to one and not the other, or typed differently, fails here.
    import inspect

    from selector.runtime.client import ClientOptions, SseClient, WsClient

    shared = WsClient.__mro__[1]
    assert shared is SseClient.__mro__[1]
    keywords = {
        name: param.annotation
        for name, param in inspect.signature(shared.__init__).parameters.items()
        if param.kind is param.KEYWORD_ONLY
    }
    # The module postpones annotations: both sides are the source text of each type.
    options = {name: ref.__forward_arg__ for name, ref in ClientOptions.__annotations__.items()}
    assert options == keywords
    assert selector.ClientOptions is ClientOptions
