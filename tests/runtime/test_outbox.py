"""The pending-mutation queue: pending until acked, replayed in order, bounded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selector.runtime.protocol.outbox import Outbox, OutboxFullError, OutgoingMutation


def _seqs(mutations: list[OutgoingMutation] | tuple[OutgoingMutation, ...]) -> list[int]:
    return [m.seq for m in mutations]


def test_a_sent_mutation_stays_pending_until_acked() -> None:
    outbox = Outbox()
    first = outbox.add("set", {"key": "a", "value": 1})
    assert _seqs(outbox.take_unsent()) == [1]
    assert outbox.pending == (first,)
    assert outbox.take_unsent() == []  # not sent twice on the same connection
    assert outbox.ack(1) is True
    assert outbox.pending == ()
    assert outbox.acked == 1


def test_after_a_lost_connection_everything_unacked_is_replayed_in_seq_order() -> None:
    outbox = Outbox()
    for i in range(5):
        outbox.add("incr", {"key": "k", "by": i})
    assert _seqs(outbox.take_unsent()) == [1, 2, 3, 4, 5]
    outbox.ack(2)
    outbox.ack(4)  # acks may come in any order
    outbox.add("incr", {"key": "k", "by": 9})  # queued while disconnected
    outbox.connection_lost()
    assert _seqs(outbox.take_unsent()) == [1, 3, 5, 6]


def test_new_mutations_after_replay_follow_the_replayed_ones() -> None:
    outbox = Outbox()
    outbox.add("a")
    outbox.take_unsent()
    outbox.connection_lost()
    assert _seqs(outbox.take_unsent()) == [1]
    outbox.add("b")
    assert _seqs(outbox.take_unsent()) == [2]


def test_duplicate_and_unknown_acks_are_harmless_and_counted() -> None:
    outbox = Outbox()
    outbox.add("a")
    outbox.take_unsent()
    assert outbox.ack(1) is True
    assert outbox.ack(1) is False
    assert outbox.ack(99) is False
    assert outbox.redundant_acks == 2
    assert len(outbox) == 0


def test_full_outbox_refuses_with_a_clear_error_and_recovers_after_an_ack() -> None:
    outbox = Outbox(capacity=2)
    outbox.add("a")
    outbox.add("b")
    with pytest.raises(OutboxFullError, match=r"2 mutations await an ack \(capacity 2\)"):
        outbox.add("c")
    outbox.ack(1)
    assert outbox.add("c").seq == 3  # the refused add consumed no seq


def test_first_seq_continues_above_what_the_server_has_seen() -> None:
    outbox = Outbox(first_seq=41)
    assert outbox.add("a").seq == 41
    assert outbox.add("b").seq == 42


def test_a_rejected_mutation_is_dropped_and_kept_for_diagnosis() -> None:
    outbox = Outbox()
    outbox.add("a")
    outbox.add("b")
    assert outbox.reject(1) == OutgoingMutation(1, "a")
    assert outbox.rejected == [OutgoingMutation(1, "a")]
    assert _seqs(outbox.pending) == [2]


@pytest.mark.parametrize("op", ["", None, 3])
def test_op_must_be_a_non_empty_string(op: object) -> None:
    with pytest.raises(ValueError):
        Outbox().add(op)  # type: ignore[arg-type]


_OPS = st.lists(
    st.one_of(
        st.just(("add",)),
        st.just(("send",)),
        st.just(("lose",)),
        st.tuples(st.just("ack"), st.integers(min_value=1, max_value=40)),
    ),
    max_size=80,
)


@settings(deadline=None)  # shared CI cores: no per-example deadline
@given(_OPS)
def test_no_mutation_is_lost_reordered_or_sent_twice_per_connection(
    operations: list[tuple[object, ...]],
) -> None:
    outbox = Outbox(capacity=1000)
    added: list[int] = []
    acked: set[int] = set()
    on_wire: list[int] = []  # what the current connection carried
    for operation in operations:
        if operation[0] == "add":
            added.append(outbox.add("op").seq)
        elif operation[0] == "send":
            on_wire.extend(_seqs(outbox.take_unsent()))
        elif operation[0] == "lose":
            outbox.connection_lost()
            on_wire = []
        else:
            seq = int(operation[1])  # type: ignore[call-overload]
            if outbox.ack(seq):
                acked.add(seq)
        assert on_wire == sorted(set(on_wire))  # in order, never twice per connection
        assert _seqs(outbox.pending) == [s for s in added if s not in acked]
    outbox.connection_lost()
    assert _seqs(outbox.take_unsent()) == [s for s in added if s not in acked]
