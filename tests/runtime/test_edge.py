"""The Host, Origin and trusted-proxy rules as pure decisions."""

from __future__ import annotations

import pytest

from selector.runtime.server.edge import KNOWN_HOSTS_MAX, EdgeConfigError, EdgePolicy

POLICY = EdgePolicy.build(
    bind_host="127.0.0.1",
    public_origins=("https://example.com",),
    allowed_origins=("https://app.example",),
    allowed_hosts=("api.example:8080",),
    trusted_proxies=("10.0.0.0/8",),
)


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:8765", True),
        ("localhost", True),
        ("LocalHost.:9", True),
        ("example.com", True),  # from --public-origin, any port
        ("api.example:8080", True),
        ("api.example:8081", False),  # listed with a port: only that port
        ("evil.example:8765", False),
        ("10.1.2.3", False),  # bound to 127.0.0.1 only
        ("a b", False),
        ("", False),
        (None, True),  # HTTP/1.0 without Host
    ],
)
def test_host_allow_list(host: str | None, ok: bool) -> None:
    assert POLICY.host_ok(host) is ok


def test_a_wildcard_bind_allows_address_literals_but_not_names() -> None:
    policy = EdgePolicy.build(bind_host="0.0.0.0")
    assert policy.host_ok("10.1.2.3:8765") and policy.host_ok("[::1]:8765")
    assert not policy.host_ok("evil.example:8765")


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        (None, "evil.example", True),  # not a browser
        ("https://example.com", "example.com", True),  # Host $host drops the port
        ("https://example.com", "127.0.0.1:8765", True),  # listed public origin
        ("https://example.com:8443", "example.com", False),
        ("http://127.0.0.1:8765", "127.0.0.1:8765", True),
        ("http://127.0.0.1:9", "127.0.0.1:8765", False),
        ("https://app.example", "127.0.0.1:8765", True),
        ("https://evil.example", "127.0.0.1:8765", False),
        ("null", "127.0.0.1:8765", False),
        ("https://example.com/path", "example.com", False),
    ],
)
def test_origin_rules(origin: str | None, host: str, ok: bool) -> None:
    assert POLICY.origin_ok(origin, host) is ok


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.0.0.5", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.5", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the left part is the client's claim
        ("10.0.0.5", "1.2.3.4, 10.0.0.9", "1.2.3.4"),  # a chain of trusted proxies
        ("10.0.0.5", "garbage", "10.0.0.5"),
        ("192.0.2.1", "1.2.3.4", "192.0.2.1"),  # not a trusted peer: ignored
        ("10.0.0.5", None, "10.0.0.5"),
    ],
)
def test_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: str | None, client: str
) -> None:
    assert POLICY.client_address(peer, forwarded) == client


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"public_origins": ("example.com",)}, "--public-origin"),
        ({"allowed_origins": ("ftp://x",)}, "--allow-origin"),
        ({"allowed_hosts": ("a/b",)}, "--allowed-host"),
        ({"trusted_proxies": ("10.0.0.0/40",)}, "--trusted-proxy"),
    ],
)
def test_malformed_entries_name_their_flag(kwargs: dict[str, tuple[str, ...]], flag: str) -> None:
    with pytest.raises(EdgeConfigError) as error:
        EdgePolicy.build(bind_host="127.0.0.1", **kwargs)  # type: ignore[arg-type]
    assert error.value.flag == flag


def test_remembered_host_answers_match_fresh_ones_and_stay_bounded() -> None:
    policy = EdgePolicy.build(bind_host="127.0.0.1")
    hosts = [f"localhost:{port}" for port in range(1, 200)]
    assert all(policy.host_ok(host) for host in hosts)
    assert all(policy.host_ok(host) for host in hosts)  # again, some from memory
    assert len(policy.known_hosts) == KNOWN_HOSTS_MAX
    assert not policy.host_ok("evil.example:1") and not policy.host_ok("evil.example:1")
    assert "evil.example:1" not in policy.known_hosts  # a refusal is never remembered
