"""The runtime's public names (the layering of its protocol core: tests/test_layering.py)."""

from __future__ import annotations

import selector


def test_runtime_names_are_exported_lazily() -> None:
    for name in ("Heartbeat", "ServerSettings", "running_server"):
        assert name in selector.__all__ and getattr(selector, name) is not None


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
