"""The server's commit session (sans-I/O): marks rise only with a commit, FAILED refuses all."""

from __future__ import annotations

import pytest

from selector.runtime.protocol.commit import (
    MAX_SEQ_GAP,
    TRANSITIONS,
    Acked,
    CommitEvent,
    CommitSession,
    CommitState,
    Duplicate,
    InvalidTransition,
    Rejected,
)
from selector.runtime.protocol.identity import Claim, Identities
from selector.runtime.protocol.ledger import Ledger


def test_a_mark_is_raised_only_when_its_group_commits() -> None:
    session = CommitSession(Ledger())
    assert session.admit("c", 1) is None
    assert session.stage("c", 1) == Acked(1)
    assert session.admit("c", 1) == Duplicate(1)  # a copy in the same group
    assert session.ledger.high_water("c") == 0  # not before the commit
    session.committed()
    assert session.ledger.high_water("c") == 1
    assert session.state is CommitState.IDLE


def test_a_failed_commit_forgets_its_marks_and_refuses_everything_until_rebuilt() -> None:
    session = CommitSession(Ledger({"c": 3}))
    session.stage("c", 4)
    session.commit_failed()
    assert session.ledger.high_water("c") == 3
    refused = session.admit("c", 4)
    # Not a false "duplicate": refused, with the status a POST gets.
    assert isinstance(refused, Rejected) and refused.code == "STORE_FAILED"
    assert refused.status == 503
    assert isinstance(session.admit("other", 1), Rejected)
    session.rebuilt(Ledger({"c": 3}), Identities())
    assert session.admit("c", 4) is None


def test_seq_jumps_are_bounded() -> None:
    session = CommitSession(Ledger({"c": 5}))
    assert session.admit("c", 5 + MAX_SEQ_GAP) is None
    jump = session.admit("c", 6 + MAX_SEQ_GAP)
    assert isinstance(jump, Rejected) and jump.code == "SEQ_GAP" and jump.seq == 6 + MAX_SEQ_GAP
    assert isinstance(session.admit("fresh", 2**53 - 1), Rejected)


def test_the_table_is_the_machine() -> None:
    session = CommitSession(Ledger())
    session.commit_failed()
    with pytest.raises(InvalidTransition):
        session.stage("c", 1)  # the hub admits nothing in FAILED; staging is a bug
    assert (CommitState.FAILED, CommitEvent.STAGE) not in TRANSITIONS
    assert {state for state, _ in TRANSITIONS} == set(CommitState)


def test_an_immediate_session_raises_marks_and_claims_at_once_and_stages_no_group() -> None:
    session = CommitSession(Ledger(), immediate=True)
    assert session.stage("c", 1) == Acked(1)
    assert session.ledger.high_water("c") == 1  # no commit to wait for
    assert session.admit("c", 1) == Duplicate(1)
    session.claim("c", Claim("secret"))
    assert session.state is CommitState.IDLE and session.staged_marks() == {}
    session.committed()  # an end-of-tick flush for events keeps everything
    assert session.ledger.high_water("c") == 1 and "c" in session.identities
    session.stage_event()  # events still wait for the end of the tick
    assert session.state is CommitState.STAGED
