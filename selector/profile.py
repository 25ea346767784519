"""The workload profile, version 2: the public contract a team writes in YAML.

Version 2 adds fields that decide real systems' choices (in-band control messages, client
acknowledgements of server messages, the share of connections that send at all, device clients,
who holds the sockets). Every one has a default that keeps a version 1 file meaning what it
meant, so v1 files still validate and score exactly as before; ``selector migrate`` rewrites
the version number.

Models are frozen, forbid unknown keys and use strict scalar types, so ``"5"`` is never
silently read as ``5``. Field names carry their unit (``_hz``, ``_bytes``, ``_ms``, ``_s``).
Cross-field checks are field validators on the later field, so an error points at the field
the user has to change rather than at the enclosing block.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

__all__ = [
    "HOP_KINDS",
    "OPERATOR_RUN_HOP_KINDS",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "AuthStyle",
    "ClientKind",
    "Delivery",
    "Direction",
    "Downstream",
    "Hop",
    "HopKind",
    "Hosting",
    "Infrastructure",
    "ManagedProtocol",
    "Profile",
    "Scale",
    "Traffic",
    "Upstream",
]

SCHEMA_VERSION = 2
#: Versions this model reads: v1 files are v2 files that use only the v1 fields.
SCHEMA_VERSIONS: tuple[int, ...] = (1, 2)
SCHEMA_ID = "https://selector.dev/schemas/profile-v2.json"

# Strictness is declared per field with ``Field(strict=True)`` rather than with
# ``pydantic.types.Strict``: importing pydantic.types costs ~10 ms of CLI start-up.

HopKind = Literal[
    "aws_alb",
    "aws_nlb",
    "aws_api_gateway",
    "aws_cloudfront",
    "cloudflare",
    "gcp_lb",
    "azure_lb",
    "azure_front_door",
    "azure_app_gateway",
    "heroku",
    "nginx",
    "ingress_nginx",
    "haproxy",
    "envoy",
    "other",
]
HOP_KINDS: tuple[str, ...] = get_args(HopKind)
#: Hops an operator normally runs and configures themselves ("partial" timeout control).
OPERATOR_RUN_HOP_KINDS: frozenset[str] = frozenset({"nginx", "ingress_nginx", "haproxy", "envoy"})

ClientKind = Literal["browser", "mobile", "server", "device"]
#: Who holds the real-time connections: the application's own servers, nobody (functions
#: that end when their response does), or a managed service in front of the functions.
Hosting = Literal["long_lived_servers", "serverless_no_socket", "managed_socket_service"]
AuthStyle = Literal["none", "cookie", "bearer_header", "query_token"]
#: The protocols a managed socket service can hold for its clients.
ManagedProtocol = Literal["websocket", "sse"]
#: What ``managed_socket_service`` meant before a profile could say: a WebSocket gateway.
DEFAULT_MANAGED_PROTOCOLS: tuple[ManagedProtocol, ...] = ("websocket",)


class _Model(BaseModel):
    # allow_inf_nan=False: YAML's .inf and .nan are floats, but no rate or timeout is infinite.
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )


class Direction(_Model):
    """Messages in one direction, per connection."""

    rate_hz: float = Field(
        strict=True, ge=0, description="Messages per second per connection at sustained peak."
    )
    payload_bytes: int = Field(
        strict=True, ge=1, description="Typical (p95) message size in bytes."
    )


class Downstream(Direction):
    """Server-to-client messages ("events")."""

    client_acks: bool = Field(
        strict=True,
        default=False,
        description=(
            "The client must acknowledge each server message (v2; false keeps v1 meaning). "
            "Decides tests/corpus/slack-socket-mode.yaml: Slack Socket Mode apps acknowledge "
            "every envelope on the socket."
        ),
    )

    per_request: bool = Field(
        strict=True,
        default=False,
        description=(
            "Each stream of server messages answers one client message and ends with the "
            "answer (v2): an LLM completion streamed token by token, streamed search results, "
            "the progress of a run the message started. The client messages "
            "(client_to_server) are those requests. false keeps v1 meaning: server messages "
            "flow on a connection that outlives any one request. Decides "
            "tests/corpus/langgraph-platform-run-streaming.yaml and "
            "librechat-resumable-streams.yaml."
        ),
    )

    @field_validator("per_request")
    @classmethod
    def _streams_carry_messages(cls, per_request: bool, info: ValidationInfo) -> bool:
        if per_request and info.data.get("rate_hz") == 0:
            raise ValueError("per_request is true but rate_hz is 0: the streams carry nothing")
        return per_request


class Upstream(Direction):
    """Client-to-server messages ("mutations")."""

    model_config = ConfigDict(
        json_schema_extra={
            # JSON Schema twin of the needs_ack check below, so editors flag it too.
            "if": {"properties": {"needs_ack": {"const": True}}, "required": ["needs_ack"]},
            "then": {"properties": {"rate_hz": {"exclusiveMinimum": 0}}},
        }
    )

    needs_ack: bool = Field(
        strict=True,
        default=False,
        description="Each client message must be acknowledged by the server.",
    )

    channel: Literal["separate_requests", "in_band"] = Field(
        default="separate_requests",
        description=(
            "How client messages reach the server (v2): separate_requests = each its own "
            "request, in_band = on the real-time connection itself (subscribe, auth and filter "
            "messages on the stream). Not stated (as in every v1 file), the engine reads "
            "messages of up to 300 B beside a stream as in-band control (rule "
            "small-messages-read-in-band: SSE pays what in-band-control charges it, no transport "
            "gains) and all others as separate_requests, and says so; state it to decide. "
            "Decides tests/corpus/binance-market-streams.yaml (also Coinbase, Kraken, Discord, "
            "Pusher)."
        ),
    )

    sending_share: float = Field(
        strict=True,
        default=1.0,
        gt=0,
        le=1,
        description=(
            "Share of the connections that send client messages at all (v2): 1, every "
            "connection (the v1 meaning); 0.2, one connection in five, as when a few publishers "
            "(riders posting readings, a scorer, a host) feed many receive-only viewers through "
            "one system. rate_hz and payload_bytes describe a sending connection. Below half "
            "(under 0.5), most connections only receive: rule receive-only-majority reads them "
            "as a push-only stream, and steady-two-way no longer reads traffic both ways on every "
            "connection. Decides tests/corpus/bike-power-tracker-live-workout-sse.yaml: riders "
            "POST readings, viewers watch over SSE."
        ),
    )

    def senders_in(self, sample: int) -> int:
        """How many of ``sample`` connections send client messages: ``sending_share`` of them,
        rounded, and at least one (a sample of a workload with client messages sends some)."""
        return min(sample, max(1, round(self.sending_share * sample)))

    @field_validator("needs_ack")
    @classmethod
    def _ack_needs_messages(cls, needs_ack: bool, info: ValidationInfo) -> bool:
        if needs_ack and info.data.get("rate_hz") == 0:
            raise ValueError("needs_ack is true but rate_hz is 0: there is nothing to acknowledge")
        return needs_ack


class Traffic(_Model):
    """Message rates and sizes in each direction."""

    server_to_client: Downstream | None = Field(
        default=None, description="Server-to-client messages; absent means none."
    )
    client_to_server: Upstream | None = Field(
        default=None, description="Client-to-server messages (mutations); absent means none."
    )
    encoding: Literal["text", "binary"] = Field(
        default="text", description="Whether payloads are text or binary."
    )

    @field_validator("client_to_server")
    @classmethod
    def _requests_for_per_request_streams(
        cls, upstream: Upstream | None, info: ValidationInfo
    ) -> Upstream | None:
        downstream = info.data.get("server_to_client")
        if (
            isinstance(downstream, Downstream)
            and downstream.per_request
            and (upstream is None or upstream.rate_hz == 0)
        ):
            raise ValueError(
                "server_to_client.per_request is true but clients send no requests: give "
                "traffic.client_to_server the rate of the requests each stream answers"
            )
        return upstream


def _hosting(hosting: Hosting | None, serverless: bool) -> Hosting:
    """``hosting`` as given, or what the v1 ``serverless`` flag meant when it is absent."""
    if hosting is not None:
        return hosting
    return "serverless_no_socket" if serverless else "long_lived_servers"


class Delivery(_Model):
    """What the application needs from delivery."""

    guarantee: Literal["reliable_ordered", "reliable_unordered", "best_effort"] = Field(
        default="reliable_ordered", description="Delivery guarantee the application needs."
    )
    latency_p99_ms: float = Field(
        strict=True,
        default=1000,
        gt=0,
        description="End-to-end latency budget at the 99th percentile.",
    )
    resume: bool = Field(
        strict=True,
        default=False,
        description="Clients must recover messages missed while disconnected.",
    )


class Scale(_Model):
    """How many connections and how widely events fan out."""

    concurrent_connections: int = Field(
        strict=True, default=1000, ge=1, description="Concurrent connections at peak."
    )
    fan_out: int = Field(
        strict=True, default=1, ge=1, description="Receivers of each server event."
    )
    streams_per_client: int = Field(
        strict=True,
        default=1,
        ge=1,
        description=(
            "Real-time streams one user opens to the same origin at once (tabs, widgets). "
            "Matters for SSE over HTTP/1.1, where browsers allow 6 connections per origin."
        ),
    )

    accept_rate_per_s: float | None = Field(
        strict=True,
        default=None,
        gt=0,
        description=(
            "New connections per second the servers accept (TLS handshakes plus "
            "authentication), as measured. Sizes the first reconnect window after a mass "
            "disconnect. Unset: the planner assumes 1000/s and says so in the plan."
        ),
    )

    @field_validator("fan_out")
    @classmethod
    def _fan_out_within_connections(cls, fan_out: int, info: ValidationInfo) -> int:
        connections = info.data.get("concurrent_connections")
        if connections is not None and fan_out > connections:
            raise ValueError(
                f"fan_out {fan_out} exceeds concurrent_connections {connections}: "
                "an event cannot reach more receivers than there are connections"
            )
        return fan_out


class Hop(_Model):
    """One proxy, load balancer or CDN between client and server."""

    kind: HopKind = Field(description="What this hop is; each kind has known default limits.")
    idle_timeout_s: float | None = Field(
        strict=True,
        default=None,
        gt=0,
        description="Override of the kind's default idle timeout in seconds.",
    )
    max_lifetime_s: float | None = Field(
        strict=True,
        default=None,
        gt=0,
        description="Maximum connection lifetime through this hop in seconds.",
    )
    controllable: bool | None = Field(
        strict=True,
        default=None,
        description="Override: can the operator change this hop's timeouts?",
    )
    buffers_streams: bool = Field(
        strict=True,
        default=False,
        description=(
            "This hop holds streamed HTTP responses back (response buffering) and it cannot be "
            "turned off for the stream, neither by the operator nor by a response header such "
            "as X-Accel-Buffering: no (v2; for example proxies the users of self-hosted software "
            "run). Decides tests/corpus/n8n-editor-push.yaml."
        ),
    )


class Infrastructure(_Model):
    """The path between clients and servers, and what the operator controls."""

    path: tuple[Hop, ...] = Field(
        default=(), description="Hops between client and server, outermost first."
    )
    timeout_control: Literal["full", "partial", "none"] = Field(
        default="partial",
        description=(
            "Which hops' timeouts the operator can change: full = all, partial = its own "
            "proxies (nginx, ingress_nginx, haproxy, envoy) but not managed edges, none = none."
        ),
    )
    http_version: Literal["1.1", "2", "3"] = Field(
        default="1.1", description='HTTP version browsers use to reach the origin (quote it: "2").'
    )
    udp_allowed: bool = Field(
        strict=True, default=True, description="Clients can reach the servers over UDP."
    )
    serverless: bool = Field(
        strict=True,
        default=False,
        description="The backend cannot hold long-lived connections (v1; see hosting).",
    )
    restrictive_networks: bool = Field(
        strict=True,
        default=False,
        description="Clients sit behind corporate proxies or inspecting middleboxes.",
    )

    hosting: Hosting | None = Field(
        default=None,
        description=(
            "Who holds the real-time connections (v2): long_lived_servers, serverless_no_socket "
            "(functions, nobody holds a socket) or managed_socket_service (a managed service "
            "or hub holds them for a serverless backend: API Gateway WebSocket APIs, AppSync, "
            "Pusher, a Mercure hub; managed_protocols says which protocols it holds). When "
            "given it wins over serverless; absent, it is derived from serverless "
            "(true = serverless_no_socket, false = long_lived_servers). Decides "
            "tests/corpus/pusher-channels.yaml and aws-appsync-events.yaml."
        ),
    )

    managed_protocols: tuple[ManagedProtocol, ...] | None = Field(
        default=None,
        min_length=1,
        description=(
            "With hosting: managed_socket_service, the protocols the service holds for "
            "clients (v2): websocket (API Gateway WebSocket APIs, AppSync, Pusher), sse (a "
            "Mercure hub) or both (Ably, Pushpin). Absent: websocket, what "
            "managed_socket_service meant before. Decides "
            "tests/corpus/concrete-cms-task-feedback-mercure.yaml, "
            "shopware-digital-sales-rooms.yaml and pimcore-studio-mercure-job-progress.yaml "
            "(a Mercure hub holds their SSE streams; unstated, each is an exact tie)."
        ),
    )

    @field_validator("managed_protocols")
    @classmethod
    def _protocols_of_a_managed_service(
        cls, protocols: tuple[ManagedProtocol, ...] | None, info: ValidationInfo
    ) -> tuple[ManagedProtocol, ...] | None:
        if protocols is None:
            return None
        if len(set(protocols)) != len(protocols):
            raise ValueError("managed_protocols lists a protocol more than once")
        hosting = _hosting(info.data.get("hosting"), bool(info.data.get("serverless")))
        if hosting != "managed_socket_service":
            raise ValueError(
                f"managed_protocols is set but hosting is {hosting}: it names the protocols a "
                "managed socket service holds, so set hosting: managed_socket_service or drop it"
            )
        return protocols

    @property
    def effective_managed_protocols(self) -> tuple[ManagedProtocol, ...]:
        """``managed_protocols``, or the WebSocket gateway ``managed_socket_service`` meant
        before a profile could say (also when nothing is managed: the fact is read only
        beside ``hosting``)."""
        return self.managed_protocols or DEFAULT_MANAGED_PROTOCOLS

    @property
    def effective_hosting(self) -> Hosting:
        """``hosting``, or what the v1 ``serverless`` flag meant when it is absent."""
        return _hosting(self.hosting, self.serverless)

    def hop_controllable(self, hop: Hop, timeout_control: str | None = None) -> bool:
        """Whether the operator can change ``hop``'s timeouts (the hop's override wins), under
        this infrastructure's ``timeout_control`` or the one given."""
        if hop.controllable is not None:
            return hop.controllable
        control = self.timeout_control if timeout_control is None else timeout_control
        if control == "full":
            return True
        if control == "none":
            return False
        return hop.kind in OPERATOR_RUN_HOP_KINDS


class Profile(_Model):
    """A real-time workload: what flows, how it must arrive, to whom and through what."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_default=True,
        allow_inf_nan=False,
        title="selector workload profile v2",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    schema_version: Literal[1, 2] = Field(
        description=(
            "Version of the profile format: 2, or 1 for files written before the v2 fields "
            "(they read the same; `selector migrate` rewrites them)."
        ),
    )
    name: str = Field(
        pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        max_length=100,
        description="A slug: lowercase letters, digits and single hyphens.",
    )
    description: str | None = Field(default=None, description="Free text.")
    traffic: Traffic = Field(default_factory=Traffic, description="Message rates and sizes.")
    delivery: Delivery = Field(default_factory=Delivery, description="Delivery needs.")
    media: Literal["none", "audio", "video", "audio_video"] = Field(
        default="none", description="Real-time audio or video carried by the connection."
    )
    topology: Literal["client_server", "peer_to_peer"] = Field(
        default="client_server", description="Whether clients talk to a server or to each other."
    )
    clients: tuple[ClientKind, ...] = Field(
        default=("browser",),
        min_length=1,
        description=(
            "Kinds of client: browser, mobile (native apps), server, device (v2: embedded or "
            "IoT devices, neither browsers nor servers; decides "
            "tests/corpus/telemetry-ingest.yaml)."
        ),
        json_schema_extra={"uniqueItems": True},
    )
    auth: AuthStyle = Field(
        default="none",
        description=(
            "How clients authenticate the real-time connection. bearer_header matters for SSE: "
            "the browser EventSource cannot send request headers."
        ),
    )
    scale: Scale = Field(default_factory=Scale, description="Connections and fan-out.")
    infrastructure: Infrastructure = Field(
        default_factory=Infrastructure, description="Proxies and load balancers on the path."
    )

    @field_validator("schema_version", mode="before")
    @classmethod
    def _version_is_a_number(cls, version: object) -> object:
        # YAML's true equals 1 to Python, and a Literal[1, 2] would take it as version 1.
        if isinstance(version, bool):
            raise ValueError(f"must be the number 1 or 2, got {str(version).lower()}")
        return version

    @field_validator("clients")
    @classmethod
    def _clients_unique(cls, clients: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(clients)) != len(clients):
            raise ValueError("clients lists a kind more than once")
        return clients

    @field_validator("media")
    @classmethod
    def _something_flows(cls, media: str, info: ValidationInfo) -> str:
        traffic = info.data.get("traffic")
        if (
            media == "none"
            and isinstance(traffic, Traffic)
            and not _carries(traffic.server_to_client)
            and not _carries(traffic.client_to_server)
        ):
            raise ValueError(
                "the profile describes no real-time traffic: give traffic.server_to_client or "
                "traffic.client_to_server a rate_hz above 0, or set media"
            )
        return media

    @property
    def bidirectional(self) -> bool:
        """Both directions carry messages (derived, read-only)."""
        return _carries(self.traffic.server_to_client) and _carries(self.traffic.client_to_server)


def _carries(direction: Direction | None) -> bool:
    return direction is not None and direction.rate_hz > 0
