"""Known limits of every hop kind: the one table the lifetime planner reasons from.

Everything the planner knows about a proxy, load balancer or CDN lives here, with the source it
came from. A value seen only in secondary sources, or guessed because the kind has no known
default, is marked ``assumed``: the plan repeats it as an assumption the user should confirm or
override (``idle_timeout_s`` / ``max_lifetime_s`` on the hop in the profile).

Figures come from ``shared/docs/facts.md``; the sentences are ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from selector.profile import HOP_KINDS

__all__ = [
    "HOP_FACTS",
    "HopFacts",
    "HopLimits",
    "hop_limits",
]


@dataclass(frozen=True, slots=True)
class HopLimits:
    """A hop kind's default limits for one protocol's long-lived connection."""

    #: Seconds without traffic after which the hop drops the connection (silently, as a rule).
    idle_timeout_s: float | None
    #: Seconds after which the hop ends the connection whatever flows: no heartbeat helps.
    max_lifetime_s: float | None = None
    #: True when a value above is not confirmed by primary documentation.
    assumed: bool = False
    #: Why the value is assumed, or a caveat the user must know.
    note: str = ""


@dataclass(frozen=True, slots=True)
class HopFacts:
    """What is known about one hop kind."""

    kind: str
    #: Limits of a WebSocket through this hop.
    websocket: HopLimits
    #: Limits of an SSE response streamed through this hop; None means SSE is not supported.
    sse: HopLimits | None
    #: Where the figures come from.
    source: str
    #: The setting an operator changes, in the hop's own vocabulary.
    setting: str
    #: The range the hop accepts for its idle timeout, when documented.
    configurable_range_s: tuple[float, float] | None = None
    #: New connections per second the hop accepts (a reconnect storm must stay under it).
    max_new_connections_per_s: float | None = None
    #: Largest message the hop forwards, in bytes.
    max_message_bytes: int | None = None
    #: Terminates TCP and HTTP itself, so TCP keepalives from the client never reach the server.
    terminates_tcp: bool = True


_OTHER_NOTE = "kind 'other' has no known default; 60 s is the commonest among known proxies"

HOP_FACTS: dict[str, HopFacts] = {
    facts.kind: facts
    for facts in (
        HopFacts(
            kind="aws_alb",
            websocket=HopLimits(60),
            sse=HopLimits(60),
            source="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
            "edit-load-balancer-attributes.html",
            setting="load balancer attribute idle_timeout.timeout_seconds",
            configurable_range_s=(1, 4000),
        ),
        HopFacts(
            kind="aws_nlb",
            websocket=HopLimits(350),
            sse=HopLimits(350),
            source="https://docs.aws.amazon.com/elasticloadbalancing/latest/network/"
            "update-idle-timeout.html",
            setting="TCP listener attribute tcp.idle_timeout.seconds",
            configurable_range_s=(60, 6000),
            terminates_tcp=False,
        ),
        HopFacts(
            kind="aws_api_gateway",
            websocket=HopLimits(600, max_lifetime_s=7200),
            sse=HopLimits(
                600,
                max_lifetime_s=7200,
                assumed=True,
                note="the known limits are those of API Gateway WebSocket APIs; an SSE stream "
                "through a REST or HTTP API meets that API's own integration timeout instead",
            ),
            source="https://docs.aws.amazon.com/apigateway/latest/developerguide/"
            "apigateway-execution-service-websocket-limits-table.html",
            setting="none (service quota: 10 min idle, 2 h connection)",
            max_new_connections_per_s=500,
            max_message_bytes=128 * 1024,
        ),
        HopFacts(
            kind="aws_cloudfront",
            websocket=HopLimits(
                600, assumed=True, note="10 min origin idle for WebSocket is unconfirmed"
            ),
            sse=HopLimits(
                600, assumed=True, note="10 min origin idle is unconfirmed for SSE responses"
            ),
            source="https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
            "distribution-working-with.websockets.html (the idle figure is unconfirmed)",
            setting="origin keep-alive / response timeout",
        ),
        HopFacts(
            kind="cloudflare",
            websocket=HopLimits(
                100, assumed=True, note="about 100 s idle for WebSocket is unconfirmed"
            ),
            # A streamed response with no byte for 120 s ends with HTTP 524.
            sse=HopLimits(120),
            source="https://developers.cloudflare.com/fundamentals/reference/connection-limits/",
            setting="none on most plans (proxy read timeout is an Enterprise setting)",
        ),
        HopFacts(
            kind="gcp_lb",
            # The backend service timeout caps the whole connection: heartbeats cannot help.
            websocket=HopLimits(None, max_lifetime_s=30),
            sse=HopLimits(
                None,
                max_lifetime_s=30,
                note="the backend service timeout bounds a streamed response as a whole",
            ),
            source="https://cloud.google.com/load-balancing/docs/backend-service#timeout-setting",
            setting="backend service timeoutSec (gcloud compute backend-services update --timeout)",
        ),
        HopFacts(
            kind="azure_lb",
            websocket=HopLimits(240),
            sse=HopLimits(240),
            source="https://learn.microsoft.com/en-us/azure/load-balancer/"
            "load-balancer-tcp-idle-timeout",
            setting="load-balancing rule idleTimeoutInMinutes",
            configurable_range_s=(240, 6000),
            terminates_tcp=False,
        ),
        HopFacts(
            kind="azure_front_door",
            websocket=HopLimits(300, max_lifetime_s=14400),
            sse=None,
            source="https://learn.microsoft.com/en-us/azure/frontdoor/standard-premium/websocket",
            setting="none (service limits: 5 min idle, 4 h connection)",
        ),
        HopFacts(
            kind="azure_app_gateway",
            websocket=HopLimits(
                20,
                assumed=True,
                note="the default request timeout is unconfirmed",
            ),
            sse=HopLimits(
                20,
                assumed=True,
                note="the default request timeout is unconfirmed",
            ),
            source="https://learn.microsoft.com/en-us/azure/application-gateway/"
            "configuration-http-settings",
            setting="backend HTTP setting requestTimeout",
            configurable_range_s=(1, 86400),
        ),
        HopFacts(
            kind="heroku",
            # 30 s to the first byte, then a rolling 55 s window.
            websocket=HopLimits(55),
            sse=HopLimits(55, note="the first byte must also leave within 30 s"),
            source="https://devcenter.heroku.com/articles/http-routing#timeouts",
            setting="none (router limit)",
        ),
        HopFacts(
            kind="nginx",
            websocket=HopLimits(60),
            sse=HopLimits(
                60, note="also needs proxy_buffering off or the X-Accel-Buffering: no header"
            ),
            source="https://nginx.org/en/docs/http/websocket.html",
            setting="proxy_read_timeout and proxy_send_timeout",
        ),
        HopFacts(
            kind="ingress_nginx",
            websocket=HopLimits(60),
            sse=HopLimits(60, note='also needs annotation proxy-buffering: "off"'),
            source="https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/"
            "annotations/",
            setting="annotations nginx.ingress.kubernetes.io/proxy-read-timeout and "
            "proxy-send-timeout",
        ),
        HopFacts(
            kind="haproxy",
            websocket=HopLimits(
                50,
                assumed=True,
                note="timeout tunnel has no documented default; it falls back to timeout "
                "client/server, 50 s in Debian's shipped haproxy.cfg",
            ),
            sse=HopLimits(
                50,
                assumed=True,
                note="timeout server/client as in Debian's shipped haproxy.cfg (50 s) is assumed",
            ),
            source="https://docs.haproxy.org/2.8/configuration.html and Debian's "
            "/etc/haproxy/haproxy.cfg",
            setting="timeout tunnel (WebSocket), timeout server and timeout client (SSE)",
        ),
        HopFacts(
            kind="envoy",
            # stream_idle_timeout (5 min) bites before the connection idle_timeout (1 h).
            websocket=HopLimits(300),
            sse=HopLimits(300),
            source="https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts",
            setting="route idle_timeout / http_connection_manager stream_idle_timeout",
        ),
        HopFacts(
            kind="other",
            websocket=HopLimits(60, assumed=True, note=_OTHER_NOTE),
            sse=HopLimits(60, assumed=True, note=_OTHER_NOTE),
            source="none: unknown hop kind",
            setting="the hop's idle or read timeout",
        ),
    )
}

# The table must cover the profile's closed set of kinds, no more, no less.
assert set(HOP_FACTS) == set(HOP_KINDS), sorted(set(HOP_KINDS) ^ set(HOP_FACTS))


def hop_limits(kind: str, protocol: str) -> HopLimits | None:
    """Default limits of ``kind`` for ``protocol``'s connection; None if it cannot carry it.

    WebRTC's signalling runs over a WebSocket, so it meets the WebSocket limits.
    """
    facts = HOP_FACTS[kind]
    return facts.sse if protocol == "sse" else facts.websocket
