"""Exactly-once bookkeeping: per-client high-water marks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from selector.runtime.protocol.ledger import Admission, Ledger


def test_gaps_are_allowed_and_lower_seqs_are_duplicates() -> None:
    ledger = Ledger()
    assert ledger.admit("a", 5) is Admission.NEW
    ledger.record("a", 5)
    assert ledger.admit("a", 9) is Admission.NEW  # the server never waits for 6..8
    assert ledger.admit("a", 5) is Admission.DUPLICATE
    assert ledger.admit("a", 3) is Admission.DUPLICATE
    assert ledger.admit("b", 1) is Admission.NEW  # marks are per client


def test_marks_restore_from_storage_and_never_go_down() -> None:
    ledger = Ledger({"a": 10})
    ledger.record("a", 4)
    assert ledger.high_water("a") == 10
    assert ledger.high_water("nobody") == 0
    assert len(ledger) == 1


# A client sends increasing seqs, and after each reconnect re-sends some unacked tail:
# modelled as an arbitrary interleaving of fresh seqs and re-sends of earlier ones.
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans(), st.integers(0, 5)),
        max_size=60,
    )
)
def test_each_client_seq_is_applied_exactly_once(steps: list[tuple[str, bool, int]]) -> None:
    ledger = Ledger()
    sent: dict[str, list[int]] = {}
    applied: list[tuple[str, int]] = []
    for client, resend, back in steps:
        history = sent.setdefault(client, [])
        if resend and history:
            seq = history[max(0, len(history) - 1 - back)]
        else:
            seq = (history[-1] if history else 0) + 1 + back  # increasing, with gaps
            history.append(seq)
        if ledger.admit(client, seq) is Admission.NEW:
            ledger.record(client, seq)
            applied.append((client, seq))
    assert len(applied) == len(set(applied))
    # every seq ever sent was applied (sending is in increasing order per client)
    assert set(applied) == {(c, s) for c, seqs in sent.items() for s in seqs}
