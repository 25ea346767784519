"""Who may act as a client id: a resume secret, set on first contact.

A client id needs no handshake: the first mutation of an unknown id is applied and claims the
id. A client may choose its secret (``secret`` in that first mutation: a random string; the
reference client draws 32 characters, so a lost ack cannot lock it out); otherwise the ack
carries a ``"secret"`` the server drew. From then on every mutation of that id (``POST
/mutations`` body field ``secret``, or the ``/ws`` connection's ``secret`` query parameter)
and every stream of that id (``/ws`` and ``/sse`` with ``secret=``) must present it. Without
it, another process can neither raise the id's high-water mark (turning its later mutations
into "duplicates") nor end its stream.

Sans-I/O: the secret is drawn by the caller (``secrets.token_urlsafe``) and passed in.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from enum import Enum

__all__ = ["Identities", "Proof"]


class Proof(Enum):
    """How an offered secret compares with the one on record."""

    #: The id has no secret yet: anyone may use it, and the next ack issues one.
    UNCLAIMED = "unclaimed"
    #: The offered secret is the one on record.
    OWNER = "owner"
    #: The id is claimed and the offered secret is missing or wrong.
    STRANGER = "stranger"


class Identities:
    """Secrets by client id."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._secrets: dict[str, str] = dict(secrets)

    def prove(self, client_id: str, offered: str | None) -> Proof:
        """Compare ``offered`` with the secret on record, in constant time."""
        recorded = self._secrets.get(client_id)
        if recorded is None:
            return Proof.UNCLAIMED
        if offered is not None and hmac.compare_digest(offered.encode(), recorded.encode()):
            return Proof.OWNER
        return Proof.STRANGER

    def claim(self, client_id: str, secret: str) -> None:
        """Record ``secret`` as ``client_id``'s."""
        self._secrets[client_id] = secret

    def forget(self, client_id: str) -> None:
        """Drop the secret (the claim was not committed)."""
        self._secrets.pop(client_id, None)

    def __len__(self) -> int:
        return len(self._secrets)
