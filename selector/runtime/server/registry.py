"""Who is connected: live subscribers by connection and by client id, connection ids, per-IP
admission counts, and the refusal for acting as a client id without proof it is yours."""

from __future__ import annotations

from selector.runtime.protocol.commit import Rejected
from selector.runtime.protocol.identity import Proof
from selector.runtime.server.subscriber import Subscriber

__all__ = ["Registry", "refusal"]


def refusal(proof: Proof, seq: int | None) -> Rejected | None:
    """The refusal for acting as a client id without proof it is the sender's."""
    if proof is Proof.STRANGER:
        return Rejected(
            "CLIENT_ID_TAKEN",
            "this client_id belongs to another client: send its secret, or use a new id",
            seq,
            403,
        )
    if proof is Proof.OTHER_TOKEN:
        return Rejected(
            "CLIENT_ID_BOUND",
            "this client_id was claimed under another token: use a new id",
            seq,
            403,
        )
    return None


class Registry:
    """The live connections. Only bookkeeping: the hub decides who joins and who is dropped."""

    __slots__ = (
        "_next_conn_id",
        "connections_by_ip",
        "max_per_ip",
        "stream_of_client",
        "subscribers",
    )

    def __init__(self, max_per_ip: int) -> None:
        self.max_per_ip = max_per_ip
        self.subscribers: dict[int, Subscriber] = {}
        #: The live stream of each client id: a client holds one stream at a time.
        self.stream_of_client: dict[str, Subscriber] = {}
        self.connections_by_ip: dict[str, int] = {}
        self._next_conn_id = 0

    def new_conn_id(self) -> int:
        """A process-unique connection number for logs and bookkeeping."""
        self._next_conn_id += 1
        return self._next_conn_id

    def try_acquire_ip(self, ip: str) -> bool:
        """Count a connection against its IP's limit; False (and nothing counted) when full."""
        count = self.connections_by_ip.get(ip, 0)
        if count >= self.max_per_ip:
            return False
        self.connections_by_ip[ip] = count + 1
        return True

    def release_ip(self, ip: str) -> None:
        """Undo :meth:`try_acquire_ip`."""
        count = self.connections_by_ip.get(ip, 0) - 1
        if count > 0:
            self.connections_by_ip[ip] = count
        else:
            self.connections_by_ip.pop(ip, None)

    def add(self, sub: Subscriber) -> None:
        """Register ``sub`` as its client id's live stream."""
        self.stream_of_client[sub.client_id] = sub
        self.subscribers[sub.conn_id] = sub

    def remove(self, sub: Subscriber) -> bool:
        """Forget ``sub``; False when it was not registered (already removed)."""
        if self.subscribers.pop(sub.conn_id, None) is None:
            return False
        if self.stream_of_client.get(sub.client_id) is sub:
            del self.stream_of_client[sub.client_id]
        return True

    def leaked(self) -> list[Subscriber]:
        """Subscribers whose transport closed without their handler noticing."""
        return [s for s in self.subscribers.values() if not s.transport_open]

    def gauges(self) -> dict[str, int]:
        """Connection gauges for the metrics exporter."""
        ws = sse = leaked = 0
        for sub in self.subscribers.values():
            if sub.route == "ws":
                ws += 1
            else:
                sse += 1
            if not sub.transport_open:
                leaked += 1
        return {
            "ws_connections_active": ws,
            "sse_connections_active": sse,
            "connections_leaked": leaked,
        }
