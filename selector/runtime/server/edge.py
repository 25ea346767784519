"""Who is asking, and from where: the Host allow-list, the Origin policy and trusted proxies.

Pure decisions on header values and the peer address, so the aiohttp layer only asks.

- ``Host`` must name this server: the bound address, ``localhost``, any IP literal when bound
  to a wildcard address, the hosts of ``--public-origin`` and ``--allowed-host``. A page whose
  name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name as Host.
- ``Origin`` (sent by browsers) must be the server's own origin (the allowed Host with the
  port the Origin's scheme implies when Host has none, as behind ``proxy_set_header Host
  $host``), or one of ``--public-origin`` / ``--allow-origin``.
- ``X-Forwarded-For`` is read only when the peer is a trusted proxy (the per-IP limit then
  counts the real client). The scheme is not compared, so ``X-Forwarded-Proto`` is not needed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from yarl import URL

__all__ = ["EdgeConfigError", "EdgePolicy", "normal_origin", "parse_origins"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_WILDCARDS = {"", "0.0.0.0", "::"}
#: Letters, digits, hyphens and dots (RFC 1123 names; IDNs arrive as xn-- labels).
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: How many allowed Host values :meth:`EdgePolicy.host_ok` remembers. Bounded, because every
#: port of an allowed name is allowed: a client could otherwise grow the set without end.
KNOWN_HOSTS_MAX = 64


class EdgeConfigError(ValueError):
    """A malformed origin, host or proxy entry; ``flag`` is the ``selector serve`` flag."""

    def __init__(self, message: str, flag: str) -> None:
        super().__init__(message)
        self.flag = flag


def _port_of(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORTS.get(scheme)


def normal_origin(value: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) origin, lower case, default port filled in;
    None when ``value`` is not one (``null``, a path, another scheme)."""
    try:
        url = URL(value)
    except ValueError:
        return None
    scheme = (url.scheme or "").lower()
    if scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
        return None
    if url.query_string or url.fragment or url.user:
        return None
    port = _port_of(scheme, url.explicit_port)
    assert port is not None
    return scheme, url.host.lower().rstrip("."), port


def parse_origins(
    origins: Iterable[str], flag: str = "--allow-origin"
) -> frozenset[tuple[str, str, int]]:
    """Normal form of each origin; EdgeConfigError naming the first that is not an origin."""
    normal = set()
    for origin in origins:
        value = normal_origin(origin)
        if value is None:
            raise EdgeConfigError(f"not an origin (http[s]://host[:port]): {origin!r}", flag)
        normal.add(value)
    return frozenset(normal)


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``host`` and optional port of a Host header value; None when malformed."""
    value = value.strip()
    if not value:
        return None
    try:
        url = URL(f"http://{value}")
    except ValueError:
        return None
    if not url.host or url.path not in ("", "/") or url.user or url.query_string:
        return None
    host = url.host.lower().rstrip(".")
    if not (_HOST_NAME.fullmatch(host) or _is_ip(host)):
        return None
    return host, url.explicit_port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _parse_hosts(values: Iterable[str]) -> frozenset[tuple[str, int | None]]:
    hosts = set()
    for value in values:
        parsed = _split_host(value)
        if parsed is None:
            raise EdgeConfigError(f"not a host name (host[:port]): {value!r}", "--allowed-host")
        hosts.add(parsed)
    return frozenset(hosts)


def _parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise EdgeConfigError(
                f"not an IP address or network: {value!r}", "--trusted-proxy"
            ) from None
    return tuple(networks)


def _ip_in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


@dataclass(frozen=True, slots=True)
class EdgePolicy:
    """The Host, Origin and proxy rules of one server, in normal form."""

    bind_host: str
    hosts: frozenset[tuple[str, int | None]]
    origins: frozenset[tuple[str, str, int]]
    trusted: tuple[Network, ...]
    #: Host header values already found allowed, as sent: parsing one (yarl and a regular
    #: expression) cost ~8 % of a POST /publish (server CPU 97.6 -> 89.4 µs,
    #: bench/sse_writes.sh publish). At most KNOWN_HOSTS_MAX.
    known_hosts: set[str] = field(default_factory=set, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        *,
        bind_host: str,
        public_origins: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
        allowed_hosts: Iterable[str] = (),
        trusted_proxies: Iterable[str] = (),
    ) -> EdgePolicy:
        """EdgeConfigError naming the first malformed origin, host or network."""
        public = parse_origins(public_origins, "--public-origin")
        hosts = set(_parse_hosts(allowed_hosts))
        hosts.update((host, None) for _, host, _ in public)
        bind = bind_host.strip("[]").lower()
        hosts.update({(bind, None), ("localhost", None)})
        return cls(
            bind_host=bind,
            hosts=frozenset(hosts),
            origins=public | parse_origins(allowed_origins),
            trusted=_parse_networks(trusted_proxies),
        )

    def host_ok(self, value: str | None) -> bool:
        """Whether a Host header names this server (absent: an HTTP/1.0 client, allowed)."""
        if value is None:
            return True
        known = self.known_hosts
        if value in known:
            return True
        allowed = self._host_allowed(value)
        if allowed and len(known) < KNOWN_HOSTS_MAX:
            known.add(value)
        return allowed

    def _host_allowed(self, value: str) -> bool:
        parsed = _split_host(value)
        if parsed is None:
            return False
        host, port = parsed
        if (host, None) in self.hosts or (host, port) in self.hosts:
            return True
        # Bound to every interface: any address literal reaches it, and no rebinding
        # attack can make a browser send one for a page of the attacker's name.
        return self.bind_host in _WILDCARDS and _is_ip(host)

    def origin_ok(self, origin: str | None, host: str | None) -> bool:
        """Whether a browser ``Origin`` may act on this server; None (not a browser) may.

        ``host`` is the (already allowed) Host header: same host and port is same origin, and
        the Host passed the allow-list, so the scheme (TLS may end at a proxy) is not compared."""
        if origin is None:
            return True
        offered = normal_origin(origin)
        if offered is None:
            return False
        if offered in self.origins:
            return True
        own = _split_host(host or "")
        if own is None:
            return False
        own_host, own_port = own
        o_scheme, o_host, o_port = offered
        if o_host != own_host:
            return False
        if own_port is None:
            # A proxy that sets ``Host $host`` drops the port: the Origin's scheme implies it.
            own_port = _DEFAULT_PORTS[o_scheme]
        return o_port == own_port

    def is_trusted(self, peer: str | None) -> bool:
        """Whether the peer is a proxy whose forwarding headers are believed."""
        return peer is not None and bool(self.trusted) and _ip_in(peer, self.trusted)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address: behind trusted proxies, the right-most untrusted entry of
        ``X-Forwarded-For`` (entries left of it are the client's word, not the proxy's)."""
        address = peer or ""
        if not self.is_trusted(peer) or not forwarded_for:
            return address
        for entry in reversed(forwarded_for.split(",")):
            candidate = entry.strip()
            if not _is_ip(candidate):
                break
            address = candidate
            if not _ip_in(candidate, self.trusted):
                break
        return address
