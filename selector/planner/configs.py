"""Ready-to-paste proxy configuration from lifetime plans: nginx, HAProxy, Envoy,
ingress-nginx and the AWS ALB.

Pure text generation. Each renderer takes the WebSocket and SSE plans of one profile and
writes the locations ``/ws``, ``/sse`` and ``/mutations`` (the SSE client's upstream: plain
POSTs) with the timeouts the plans ask of that kind of hop, and says why next to each value.
Formats without comments (the ALB's JSON) return their explanation separately.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from selector.errors import UsageError
from selector.planner.facts import HOP_FACTS, hop_limits
from selector.planner.model import LifetimePlan
from selector.planner.names import CONFIG_TARGETS
from selector.planner.solver import required_hop_timeout
from selector.profile import Profile

__all__ = ["CONFIG_TARGETS", "ProxyConfig", "render_config"]

#: Time nginx, HAProxy and Envoy wait to connect to the backend.
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class ProxyConfig:
    """Generated configuration: ``text`` to paste, ``explanation`` for formats without comments
    (empty when the comments are inside ``text``)."""

    target: str
    text: str
    explanation: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Inputs:
    profile: Profile
    websocket: LifetimePlan | None
    sse: LifetimePlan | None
    host: str
    port: int
    listen: int

    @property
    def slug(self) -> str:
        return "selector_" + self.profile.name.replace("-", "_")


def hop_timeout(plan: LifetimePlan, kind: str) -> int:
    """Idle timeout, in whole seconds, that a hop of ``kind`` needs under ``plan``.

    The plan's value for that hop when the path holds one; otherwise the kind's default,
    raised to 1.5x the heartbeat if that is not enough.
    """
    hop = plan.hop(kind)
    if hop is not None and (hop.set_idle_timeout_s or hop.idle_timeout_s):
        return _whole(hop.set_idle_timeout_s or hop.idle_timeout_s or 0)
    limits = hop_limits(kind, plan.protocol)
    default = limits.idle_timeout_s if limits and limits.idle_timeout_s else 0.0
    return _whole(max(default, required_hop_timeout(plan.heartbeat_interval_s)))


def _whole(seconds: float) -> int:
    # Proxies take whole seconds; round up so the 1.5x margin survives.
    return int(-(-seconds // 1))


def _why(plan: LifetimePlan, timeout: int) -> str:
    what = "ping interval" if plan.protocol == "websocket" else "comment heartbeat"
    return f"{timeout} s: at least 1.5 x the {plan.heartbeat_interval_s:g} s {what}"


# --- nginx ------------------------------------------------------------------------------------


def _nginx(inputs: _Inputs) -> ProxyConfig:
    upstream = inputs.slug
    connections = inputs.profile.scale.concurrent_connections
    # Each proxied connection holds two descriptors: the client's and the backend's.
    descriptors = 2 * connections
    lines = [
        f"# selector: nginx configuration for profile {inputs.profile.name!r}.",
        "# For the http context: it holds the map, the upstream and the server. On Debian",
        f"# save it as /etc/nginx/conf.d/{inputs.profile.name}.conf. Values come from "
        "'selector plan'.",
        "# Set server_name below to your host name: requests for other names keep going to",
        "# the default site (the Debian default site is 'listen 80 default_server').",
        "#",
        f"# Scale: {connections} concurrent connections hold {descriptors} descriptors",
        "# (the client's and the backend's). These belong to other contexts; set them there:",
        f"#   main context:   worker_rlimit_nofile {descriptors + 1024};",
        f"#   events context: worker_connections N; with N x worker_processes >= {descriptors}",
        f"#   systemd unit:   LimitNOFILE={descriptors + 1024} (the service's descriptor limit)",
        "# https://nginx.org/en/docs/ngx_core_module.html#worker_rlimit_nofile",
        "# https://nginx.org/en/docs/ngx_core_module.html#worker_connections",
        "",
        "# Connection header for the backend: 'upgrade' when the client asks for a WebSocket,",
        "# 'close' otherwise.",
        "map $http_upgrade $connection_upgrade {",
        "    default upgrade;",
        "    ''      close;",
        "}",
        "",
        f"upstream {upstream} {{",
        f"    server {_host_port(inputs)};",
        "    # Reuse backend connections for SSE and mutation requests (needs HTTP/1.1 and an",
        "    # empty Connection header in those locations).",
        "    keepalive 16;",
        "}",
        "",
        "server {",
        f"    listen {inputs.listen};",
        f"    server_name {inputs.profile.name}.example.com;",
    ]
    if inputs.websocket is not None:
        timeout = hop_timeout(inputs.websocket, "nginx")
        lines += [
            "",
            "    location /ws {",
            f"        proxy_pass http://{upstream};",
            "        proxy_http_version 1.1;",
            "        proxy_set_header Upgrade $http_upgrade;",
            "        proxy_set_header Connection $connection_upgrade;",
            "        proxy_set_header Host $host;",
            "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            f"        # {_why(inputs.websocket, timeout)}: pings keep the tunnel from idling out.",
            f"        proxy_read_timeout {timeout}s;",
            f"        proxy_send_timeout {timeout}s;",
            f"        proxy_connect_timeout {CONNECT_TIMEOUT_S}s;",
            "    }",
        ]
    if inputs.sse is not None:
        timeout = hop_timeout(inputs.sse, "nginx")
        lines += [
            "",
            "    location /sse {",
            f"        proxy_pass http://{upstream};",
            "        proxy_http_version 1.1;",
            '        proxy_set_header Connection "";',
            "        proxy_set_header Host $host;",
            "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "        # Deliver each event as it arrives; the server may also send",
            "        # 'X-Accel-Buffering: no', which has the same effect per response.",
            "        proxy_buffering off;",
            "        proxy_cache off;",
            "        # Compression would hold small events back too.",
            "        gzip off;",
            f"        # {_why(inputs.sse, timeout)}.",
            f"        proxy_read_timeout {timeout}s;",
            f"        proxy_send_timeout {timeout}s;",
            f"        proxy_connect_timeout {CONNECT_TIMEOUT_S}s;",
            "    }",
        ]
    lines += [
        "",
        "    # Short requests: the SSE client's mutations, server-side publishing and the",
        "    # health check. /metrics and /state stay internal.",
        "    location ~ ^/(mutations|publish|healthz)$ {",
        f"        proxy_pass http://{upstream};",
        "        proxy_http_version 1.1;",
        '        proxy_set_header Connection "";',
        "        proxy_set_header Host $host;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        f"        proxy_connect_timeout {CONNECT_TIMEOUT_S}s;",
        "    }",
        "}",
    ]
    return ProxyConfig("nginx", "\n".join(lines) + "\n")


# --- HAProxy ----------------------------------------------------------------------------------


def _haproxy(inputs: _Inputs) -> ProxyConfig:
    slug = inputs.slug
    server = f"    server app1 {_host_port(inputs)}"
    sse_timeout = hop_timeout(inputs.sse, "haproxy") if inputs.sse else None
    ws_timeout = hop_timeout(inputs.websocket, "haproxy") if inputs.websocket else None
    client_timeout = max(t for t in (sse_timeout, ws_timeout, 30) if t is not None)
    connections = inputs.profile.scale.concurrent_connections
    lines = [
        f"# selector: HAProxy configuration for profile {inputs.profile.name!r}.",
        "# Add it after your global section (or pass it as a second -f file).",
        "# Values come from 'selector plan'.",
        "#",
        f"# Scale for {connections} concurrent connections: set 'maxconn {connections}' (or more)",
        "# in the global section too; HAProxy then raises its descriptor limit (ulimit-n) to",
        "# match when started as root, else raise LimitNOFILE in its systemd unit.",
        "# https://docs.haproxy.org/2.8/configuration.html#3.2-maxconn",
        "",
        "defaults",
        "    mode http",
        "    option forwardfor",
        f"    timeout connect {CONNECT_TIMEOUT_S}s",
        "    # Client-side inactivity; SSE streams only send, so this must outlast the",
        "    # heartbeat as well.",
        f"    timeout client {client_timeout}s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "",
        f"frontend {slug}",
        f"    bind :{inputs.listen}",
        f"    maxconn {connections}",
    ]
    if ws_timeout is not None:
        lines += ["    acl is_ws path_beg /ws", f"    use_backend {slug}_ws if is_ws"]
    if sse_timeout is not None:
        lines += ["    acl is_sse path_beg /sse", f"    use_backend {slug}_sse if is_sse"]
    lines += [f"    default_backend {slug}_http", ""]
    if inputs.websocket is not None and ws_timeout is not None:
        lines += [
            f"backend {slug}_ws",
            "    # After the upgrade, timeout tunnel replaces client and server timeouts;",
            f"    # {_why(inputs.websocket, ws_timeout)}.",
            f"    timeout tunnel {ws_timeout}s",
            server,
            "",
        ]
    if inputs.sse is not None and sse_timeout is not None:
        lines += [
            f"backend {slug}_sse",
            "    # Waiting for the next event or comment from the server;",
            f"    # {_why(inputs.sse, sse_timeout)}.",
            f"    timeout server {sse_timeout}s",
            server,
            "",
        ]
    lines += [
        f"backend {slug}_http",
        "    # Everything else, including the SSE client's /mutations POSTs.",
        server,
    ]
    return ProxyConfig("haproxy", "\n".join(lines) + "\n")


# --- Envoy ------------------------------------------------------------------------------------


def _envoy(inputs: _Inputs) -> ProxyConfig:
    slug = inputs.slug
    plans = [p for p in (inputs.websocket, inputs.sse) if p is not None]
    stream_idle = max(hop_timeout(p, "envoy") for p in plans)
    routes: list[str] = []
    for prefix, plan in (("/ws", inputs.websocket), ("/sse", inputs.sse)):
        if plan is None:
            continue
        idle = hop_timeout(plan, "envoy")
        routes += [
            f"                  - match: {{prefix: {prefix}}}",
            "                    route:",
            f"                      cluster: {slug}",
            "                      # 0s disables the 15 s response timeout, which would end",
            "                      # every long-lived stream; idleness is bounded below.",
            "                      timeout: 0s",
            f"                      # {_why(plan, idle)}",
            f"                      idle_timeout: {idle}s",
        ]
    routes += [
        "                  - match: {prefix: /}",
        f"                    route: {{cluster: {slug}}}",
    ]
    address_type = "STATIC" if _is_ip(inputs.host) else "STRICT_DNS"
    lines = [
        f"# selector: Envoy configuration for profile {inputs.profile.name!r}.",
        "# Values come from 'selector plan'.",
        "static_resources:",
        "  listeners:",
        f"    - name: {slug}",
        "      address:",
        f"        socket_address: {{address: 0.0.0.0, port_value: {inputs.listen}}}",
        "      filter_chains:",
        "        - filters:",
        "            - name: envoy.filters.network.http_connection_manager",
        "              typed_config:",
        '                "@type": type.googleapis.com/envoy.extensions.filters.network.'
        "http_connection_manager.v3.HttpConnectionManager",
        f"                stat_prefix: {slug}",
        "                # Default 5 min; must outlast the heartbeat on every stream.",
        f"                stream_idle_timeout: {stream_idle}s",
        "                upgrade_configs:",
        "                  - upgrade_type: websocket",
        "                route_config:",
        f"                  name: {slug}",
        "                  virtual_hosts:",
        f"                    - name: {slug}",
        '                      domains: ["*"]',
        "                      routes:",
        *["      " + r for r in routes],
        "                http_filters:",
        "                  - name: envoy.filters.http.router",
        "                    typed_config:",
        '                      "@type": type.googleapis.com/envoy.extensions.filters.http.'
        "router.v3.Router",
        "  clusters:",
        f"    - name: {slug}",
        f"      type: {address_type}",
        f"      connect_timeout: {CONNECT_TIMEOUT_S}s",
        "      load_assignment:",
        f"        cluster_name: {slug}",
        "        endpoints:",
        "          - lb_endpoints:",
        "              - endpoint:",
        "                  address:",
        f"                    socket_address: {{address: {inputs.host}, "
        f"port_value: {inputs.port}}}",
    ]
    return ProxyConfig("envoy", "\n".join(lines) + "\n")


# --- ingress-nginx ----------------------------------------------------------------------------


def _ingress(
    inputs: _Inputs, suffix: str, path: str, annotations: list[tuple[str, str, str]]
) -> list[str]:
    lines = [
        "---",
        "apiVersion: networking.k8s.io/v1",
        "kind: Ingress",
        "metadata:",
        f"  name: {inputs.profile.name}-{suffix}",
    ]
    if annotations:
        lines.append("  annotations:")
        for comment, key, value in annotations:
            lines.append(f"    # {comment}")
            lines.append(f'    nginx.ingress.kubernetes.io/{key}: "{value}"')
    lines += [
        "spec:",
        "  ingressClassName: nginx",
        "  rules:",
        "    - http:",
        "        paths:",
        f"          - path: {path}",
        "            pathType: Prefix",
        "            backend:",
        "              service:",
        f"                name: {inputs.host}",
        "                port:",
        f"                  number: {inputs.port}",
    ]
    return lines


def _ingress_nginx(inputs: _Inputs) -> ProxyConfig:
    lines = [
        f"# selector: ingress-nginx Ingresses for profile {inputs.profile.name!r}.",
        "# One Ingress per location, because annotations apply to a whole Ingress.",
        "# ingress-nginx forwards WebSocket upgrades by itself. Values come from 'selector plan'.",
    ]
    if inputs.websocket is not None:
        t = hop_timeout(inputs.websocket, "ingress_nginx")
        why = _why(inputs.websocket, t)
        lines += _ingress(
            inputs,
            "ws",
            "/ws",
            [(why, "proxy-read-timeout", str(t)), (why, "proxy-send-timeout", str(t))],
        )
    if inputs.sse is not None:
        t = hop_timeout(inputs.sse, "ingress_nginx")
        why = _why(inputs.sse, t)
        lines += _ingress(
            inputs,
            "sse",
            "/sse",
            [
                ("deliver each event as it arrives", "proxy-buffering", "off"),
                (why, "proxy-read-timeout", str(t)),
                (why, "proxy-send-timeout", str(t)),
            ],
        )
        lines += _ingress(inputs, "mutations", "/mutations", [])
    return ProxyConfig("ingress_nginx", "\n".join(lines) + "\n")


# --- AWS ALB ----------------------------------------------------------------------------------


def _aws_alb(inputs: _Inputs) -> ProxyConfig:
    plans = [p for p in (inputs.websocket, inputs.sse) if p is not None]
    needs = {p.protocol: hop_timeout(p, "aws_alb") for p in plans}
    # One idle timeout covers every listener: take the larger need.
    timeout = max(needs.values())
    low, high = HOP_FACTS["aws_alb"].configurable_range_s or (1, 4000)
    if not low <= timeout <= high:
        raise UsageError.single(
            f"the plan needs an ALB idle timeout of {timeout} s, outside the {low:g}-{high:g} s "
            "the ALB accepts"
        )
    document = {
        "LoadBalancerArn": "REPLACE-WITH-YOUR-ALB-ARN",
        "Attributes": [{"Key": "idle_timeout.timeout_seconds", "Value": str(timeout)}],
    }
    explanation = [
        "save as alb.json, fill in the ARN, then run: aws elbv2 "
        "modify-load-balancer-attributes --cli-input-json file://alb.json",
        *(
            f"{protocol} needs {_why(next(p for p in plans if p.protocol == protocol), need)}"
            for protocol, need in needs.items()
        ),
        "the ALB has one idle timeout for all its listeners, so it takes the larger need",
        "HTTP/2 PING frames do not reset this timer: the heartbeat must be WebSocket Ping "
        "frames or SSE comments",
        "the ALB forwards WebSocket upgrades and streams SSE without buffering; no other "
        "attribute is needed",
    ]
    return ProxyConfig("aws_alb", json.dumps(document, indent=2) + "\n", tuple(explanation))


# --- entry point ------------------------------------------------------------------------------

_RENDERERS: dict[str, Callable[[_Inputs], ProxyConfig]] = {
    "nginx": _nginx,
    "haproxy": _haproxy,
    "envoy": _envoy,
    "ingress_nginx": _ingress_nginx,
    "aws_alb": _aws_alb,
}
assert tuple(_RENDERERS) == CONFIG_TARGETS

_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_port(inputs: _Inputs) -> str:
    host = f"[{inputs.host}]" if ":" in inputs.host else inputs.host
    return f"{host}:{inputs.port}"


def parse_upstream(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a pair; raises :class:`UsageError` whose
    problem's path is ``upstream`` (the argument of :func:`render_config`)."""
    host, sep, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    valid_host = _is_ip(host) or bool(_HOST.match(host))
    if not sep or not valid_host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError.single(
            f"{text!r}: expected HOST:PORT, such as 127.0.0.1:8765 or [::1]:8765",
            path="upstream",
        )
    return host, int(port_text)


def render_config(
    target: str,
    profile: Profile,
    websocket: LifetimePlan | None,
    sse: LifetimePlan | None,
    *,
    upstream: str = "127.0.0.1:8765",
    listen: int = 80,
) -> ProxyConfig:
    """Configuration for ``target`` (one of :data:`CONFIG_TARGETS`) from the profile's plans.

    Pass the WebSocket plan, the SSE plan or both (``plan_lifetime(profile, ...)``); a
    location is written only for the plans given. The caller must refuse plans with
    ``problems`` first: their numbers cannot be applied. ``upstream`` is the backend (for
    ``ingress_nginx``, a Kubernetes Service as ``NAME:PORT``).
    """
    renderer = _RENDERERS.get(target)
    if renderer is None:
        raise UsageError.single(f"unknown target {target!r}; choose one of {CONFIG_TARGETS}")
    if websocket is None and sse is None:
        raise UsageError.single("give a WebSocket plan, an SSE plan or both")
    if not 0 < listen < 65536:
        raise UsageError.single(f"{listen}: not a TCP port (1-65535)", path="listen")
    host, port = parse_upstream(upstream)
    return renderer(_Inputs(profile, websocket, sse, host, port, listen))
