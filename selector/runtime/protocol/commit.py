"""The server's mutation session: admission, the commit group and the outcome of a submit.

Sans-I/O. A mutation goes through three steps: the session admits it (new, duplicate or
refused), the store applies it, and the group it joined is committed at the end of the loop
tick. The per-client high-water mark that makes a re-sent copy a duplicate is raised only when
the group commits: until then it lives in the group (so a copy re-sent within the same group
is still a duplicate), and a failed commit discards it. After a failed commit the session is
FAILED and refuses every mutation and publish (``STORE_FAILED``) until it is rebuilt from what
is durable: acking anything on top of a state that memory and disk no longer agree on would
ack what a restart forgets.

One state enum and one transition table (:data:`TRANSITIONS`), the h11 way: every change of
state goes through :meth:`CommitSession._to`, which refuses a transition the table lacks.

A session over a store that commits as it applies (the in-memory store: nothing to write, so
nothing can fail) is ``immediate``: marks and claims are raised at once and a mutation stages
no group, so a mutation costs no end-of-tick commit. Events still stage a group (their
fan-out waits for the end of the tick).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from selector.runtime.protocol.envelope import ACK_FORMAT, encode_ack, encode_error
from selector.runtime.protocol.identity import Claim, Identities
from selector.runtime.protocol.ledger import Ledger
from selector.runtime.protocol.machine import InvalidTransition, next_state

__all__ = [
    "MAX_SEQ_GAP",
    "STORE_FAILED",
    "TRANSITIONS",
    "Acked",
    "CommitEvent",
    "CommitSession",
    "CommitState",
    "Duplicate",
    "InvalidTransition",
    "Rejected",
    "SubmitResult",
]

#: Largest step a client's ``seq`` may take above its high-water mark (a fresh client starts
#: at 0). A bigger jump is refused (``SEQ_GAP``): it would turn every later mutation of that
#: client id into a "duplicate" that is never applied.
MAX_SEQ_GAP = 1_000_000


class CommitState(Enum):
    """Where the session stands."""

    #: Accepting mutations; nothing staged since the last commit.
    IDLE = "idle"
    #: Mutations or events are staged and wait for the end-of-tick commit.
    STAGED = "staged"
    #: A commit failed: nothing is acked until the state is rebuilt from the store.
    FAILED = "failed"

    # Members are singletons compared by identity: hash them by identity too, in C. Enum's
    # own __hash__ is Python code, run twice per transition-table lookup, i.e. per mutation:
    # 321k Python-level calls for 155k acks in a cProfile of bench/run.py's one-in-flight load.
    __hash__ = object.__hash__


class CommitEvent(Enum):
    """What moves the session."""

    STAGE = "stage"
    COMMITTED = "committed"
    COMMIT_FAILED = "commit_failed"
    REBUILT = "rebuilt"

    __hash__ = object.__hash__  # see CommitState


#: The whole machine. A pair that is missing is a bug in the caller.
TRANSITIONS: dict[tuple[CommitState, CommitEvent], CommitState] = {
    (CommitState.IDLE, CommitEvent.STAGE): CommitState.STAGED,
    (CommitState.IDLE, CommitEvent.COMMITTED): CommitState.IDLE,
    (CommitState.STAGED, CommitEvent.STAGE): CommitState.STAGED,
    (CommitState.STAGED, CommitEvent.COMMITTED): CommitState.IDLE,
    (CommitState.IDLE, CommitEvent.COMMIT_FAILED): CommitState.FAILED,
    (CommitState.STAGED, CommitEvent.COMMIT_FAILED): CommitState.FAILED,
    (CommitState.FAILED, CommitEvent.COMMIT_FAILED): CommitState.FAILED,
    (CommitState.FAILED, CommitEvent.REBUILT): CommitState.IDLE,
}


# Acked and Duplicate are built once per ack: not frozen, because a frozen dataclass sets
# each field through object.__setattr__ (2.6 % of the server's samples on bench/run.py's
# one-in-flight load, py-spy). Nothing holds on to them past the reply.
@dataclass(slots=True)
class Acked:
    """Applied now; acked once its group is committed. ``secret`` is set on the client id's
    first contact."""

    seq: int
    secret: str | None = None

    def encode(self) -> bytes:
        """The wire reply."""
        if self.secret is None:
            return ACK_FORMAT % self.seq
        return encode_ack(self.seq, secret=self.secret)


@dataclass(slots=True)
class Duplicate:
    """Applied before (or earlier in this group): acked again, not applied again."""

    seq: int
    secret: str | None = None

    def encode(self) -> bytes:
        """The wire reply."""
        return encode_ack(self.seq, duplicate=True, secret=self.secret)


@dataclass(frozen=True, slots=True)
class Rejected:
    """Refused: nothing was applied. ``status`` is the HTTP status for ``POST /mutations``."""

    code: str
    detail: str
    seq: int | None = None
    status: int = 400

    def encode(self) -> bytes:
        """The wire reply ``{"error": code, "detail": ..., "seq": N}``."""
        return encode_error(self.detail, self.seq, code=self.code)


SubmitResult = Acked | Duplicate | Rejected

STORE_FAILED = Rejected(
    "STORE_FAILED",
    "the state store failed to commit; nothing is acked until it recovers",
    None,
    503,
)


# FAILED and STAGE as module globals for admit() and stage(), which run per mutation: on
# Python 3.11 reading a member from an Enum class goes through EnumType.__getattr__'s slow
# hook (~0.6 us against ~0.05 us for a global, timeit).
_FAILED = CommitState.FAILED
_STAGE = CommitEvent.STAGE


#: ``object.__new__`` looked up once (per ack it is a lookup on the type): 33,290 ->
#: 33,067 instructions per ack (bench/ws_ack_instructions.sh).
_new_object = object.__new__


class CommitSession:
    """High-water marks plus the group being built; the single owner of FAILED."""

    __slots__ = ("_staged_claims", "_staged_marks", "identities", "immediate", "ledger", "state")

    def __init__(
        self, ledger: Ledger, identities: Identities | None = None, *, immediate: bool = False
    ) -> None:
        self.ledger = ledger
        #: Marks and claims count as committed once made (a store that cannot fail to commit).
        self.immediate = immediate
        self.identities = identities if identities is not None else Identities()
        self.state = CommitState.IDLE
        #: Client ids claimed in the open group: unclaimed again if its commit fails.
        self._staged_claims: list[str] = []
        #: Marks of the open group, raised into the ledger only when it commits.
        self._staged_marks: dict[str, int] = {}

    def _to(self, event: CommitEvent) -> None:
        self.state = next_state(TRANSITIONS, self.state, event, "commit group")

    @property
    def failed(self) -> bool:
        """Whether the session refuses everything until :meth:`rebuilt`."""
        return self.state is CommitState.FAILED

    def high_water(self, client_id: str) -> int:
        """The committed-or-staged mark of ``client_id`` (0 when it has none)."""
        staged = self._staged_marks.get(client_id)
        return staged if staged is not None else self.ledger.high_water(client_id)

    def admit(self, client_id: str, seq: int) -> SubmitResult | None:
        """None when the mutation is new and may be applied; otherwise the final result."""
        if self.state is _FAILED:
            return Rejected(STORE_FAILED.code, STORE_FAILED.detail, seq, STORE_FAILED.status)
        staged = self._staged_marks.get(client_id) if self._staged_marks else None
        mark = staged if staged is not None else self.ledger.marks.get(client_id, 0)
        if seq <= mark:
            return Duplicate(seq)
        if seq - mark > MAX_SEQ_GAP:
            return Rejected(
                "SEQ_GAP",
                f"seq {seq} is more than {MAX_SEQ_GAP} above this client's last applied seq "
                f"({mark})",
                seq,
            )
        return None

    def stage(self, client_id: str, seq: int) -> Acked:
        """Record that ``seq`` was applied; its mark waits for the commit (or, ``immediate``,
        is raised now)."""
        if self.immediate:
            # Ledger.record inlined (a mark never goes down).
            marks = self.ledger.marks
            if seq > marks.get(client_id, 0):
                marks[client_id] = seq
        else:
            self._staged_marks[client_id] = seq
            self._to(_STAGE)
        # Acked(seq) without the dataclass's generated __init__ (a Python frame): ~650 of
        # the ~40,000 instructions of a one-in-flight ack (bench/ws_ack_instructions.sh).
        acked = _new_object(Acked)
        acked.seq = seq
        acked.secret = None
        return acked

    def claim(self, client_id: str, claim: Claim) -> None:
        """Record ``claim`` for ``client_id`` with the open group (``immediate``: for good)."""
        self.identities.claim(client_id, claim)
        if not self.immediate:
            self._staged_claims.append(client_id)
            self._to(CommitEvent.STAGE)

    def stage_event(self) -> None:
        """An event joined the group (it has no mark, only a commit to wait for)."""
        self._to(CommitEvent.STAGE)

    def staged_marks(self) -> dict[str, int]:
        """The marks the store must write with this group."""
        return self._staged_marks

    def committed(self) -> None:
        """The group is durable: its marks become the ledger's."""
        for client_id, seq in self._staged_marks.items():
            self.ledger.record(client_id, seq)
        self._staged_marks = {}
        self._staged_claims = []
        self._to(CommitEvent.COMMITTED)

    def commit_failed(self) -> None:
        """The group is lost: forget its marks and claims, refuse everything until rebuilt."""
        self._staged_marks = {}
        for client_id in self._staged_claims:
            self.identities.forget(client_id)
        self._staged_claims = []
        self._to(CommitEvent.COMMIT_FAILED)

    def rebuilt(self, ledger: Ledger, identities: Identities) -> None:
        """The state was reloaded from the store: accept mutations again."""
        self.ledger = ledger
        self.identities = identities
        self._staged_marks = {}
        self._staged_claims = []
        self._to(CommitEvent.REBUILT)
