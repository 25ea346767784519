"""Who may act as a client id: a resume secret set on first contact, bound to the token.

A client id needs no handshake: the first contact of an unknown id claims it. First contact
is the first mutation of the id, or a ``/ws`` or ``/sse`` stream opened with a ``secret``
query parameter (a stream opened without one claims nothing). A client may choose its secret
(``secret`` in that first mutation or stream: a random string; the reference client draws 32
characters, so a lost ack cannot lock it out); otherwise the first ack carries a ``"secret"``
the server drew. From then on every mutation of that id (``POST /mutations`` body field
``secret``, or the ``/ws`` connection's ``secret`` query parameter) and every stream of that
id (``/ws`` and ``/sse`` with ``secret=``) must present it. Without it, another process can
neither raise the id's high-water mark (turning its later mutations into "duplicates") nor
end its stream.

When the server requires a token, the claim also records which token it was made under (its
``owner``: a digest of the token, never the token itself); the id then refuses every other
token, secret or not, so one token holder cannot act as another's clients.

Sans-I/O: the secret is drawn by the caller (``secrets.token_urlsafe``) and passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = ["Claim", "Identities", "Proof", "token_owner"]


@dataclass(frozen=True, slots=True)
class Claim:
    """What a client id was claimed with."""

    secret: str
    #: Digest of the token the claim was made under; empty when the server has no token.
    owner: str = ""


class Proof(Enum):
    """How an offered secret (and token) compares with the claim on record."""

    #: The id has no claim yet: anyone may use it, and its first contact claims it.
    UNCLAIMED = "unclaimed"
    #: The offered secret is the one on record, under the same token.
    OWNER = "owner"
    #: The id is claimed and the offered secret is missing or wrong.
    STRANGER = "stranger"
    #: The id was claimed under another token.
    OTHER_TOKEN = "other_token"


class Identities:
    """Claims by client id."""

    __slots__ = ("claims",)

    def __init__(self, claims: Mapping[str, Claim] | Iterable[tuple[str, Claim]] = ()) -> None:
        #: The claim on record by client id; change it through :meth:`claim` and
        #: :meth:`forget`. A connection that proved a claim keeps the object: while the same
        #: object is on record, the proof still holds (a forgotten, re-made or reloaded claim
        #: is a new object). The hub reads it per WebSocket mutation without a call: a
        #: ``claim_of`` method cost ~350 instructions per ack (37,789 -> 37,437,
        #: bench/ws_ack_instructions.sh).
        self.claims: dict[str, Claim] = dict(claims)

    def prove(self, client_id: str, offered: str | None, owner: str = "") -> Proof:
        """Compare ``offered`` and ``owner`` with the claim on record, in constant time."""
        recorded = self.claims.get(client_id)
        if recorded is None:
            return Proof.UNCLAIMED
        if not hmac.compare_digest(owner.encode(), recorded.owner.encode()):
            return Proof.OTHER_TOKEN
        if offered is not None and hmac.compare_digest(offered.encode(), recorded.secret.encode()):
            return Proof.OWNER
        return Proof.STRANGER

    def claim(self, client_id: str, claim: Claim) -> None:
        """Record ``claim`` as ``client_id``'s."""
        self.claims[client_id] = claim

    def forget(self, client_id: str) -> None:
        """Drop the claim (not committed, or the id was evicted)."""
        self.claims.pop(client_id, None)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self.claims

    def __len__(self) -> int:
        return len(self.claims)


def token_owner(token: str) -> str:
    """The owner recorded for claims made under ``token``: a digest, so a state file does not
    hold the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
