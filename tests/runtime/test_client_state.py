"""The client's decisions, driven with no sockets and a hand-moved clock."""

from __future__ import annotations

import itertools

import pytest

from selector.runtime.protocol.backoff import Backoff
from selector.runtime.protocol.client_state import (
    MAX_SERVER_FLOOR,
    TRANSITIONS,
    ClientState,
    ConnectionEvent,
    ConnectionState,
)
from selector.runtime.protocol.client_wire import (
    Ack,
    HeartbeatMessage,
    Malformed,
    Position,
    Resync,
    ServerError,
    ServerEvent,
)
from selector.runtime.protocol.machine import InvalidTransition


def _state(**options: object) -> ClientState:
    backoff = Backoff(base=1.0, cap=8.0, random_source=lambda: 1.0)
    return ClientState(silence_timeout=10.0, backoff=backoff, **options)  # type: ignore[arg-type]


def test_events_are_delivered_once_and_gaps_are_counted() -> None:
    state = _state()
    state.opened(0.0)
    delivered = [state.received(ServerEvent(i, "tick"), 1.0) for i in (1, 2, 2, 1, 5, 6)]
    assert [e.id for e in delivered if e is not None] == [1, 2, 5, 6]
    assert state.stats.duplicate_events == 2
    assert state.stats.missed_ids == 2  # 3 and 4
    assert state.last_event_id == 6


def test_heartbeats_and_resyncs_are_not_stream_events() -> None:
    state = _state(last_event_id=3)
    state.opened(0.0)
    assert state.received(HeartbeatMessage(1), 1.0) is None
    assert state.received(Resync(after=3, oldest=50, latest=80), 1.0) is None
    assert state.stats.events == 0
    assert state.stats.heartbeats == 1
    assert state.stats.resyncs == [Resync(3, 50, 80)]
    assert state.last_event_id == 80  # resume from where live events continue
    assert state.received(ServerEvent(81, "tick"), 2.0) is not None
    assert state.stats.missed_ids == 0


def test_a_resync_from_a_restarted_server_resets_the_resume_point_downwards() -> None:
    state = _state(last_event_id=500)
    state.opened(0.0)
    state.received(Resync(after=500, oldest=1, latest=3), 1.0)
    assert state.last_event_id == 3
    event = state.received(ServerEvent(4, "tick"), 2.0)
    assert event is not None and event.id == 4  # not mistaken for a duplicate


def test_acks_empty_the_outbox_and_every_reconnect_replays_the_rest_in_order() -> None:
    state = _state()
    for i in range(3):
        state.outbox.add("incr", {"by": i})
    state.opened(0.0)
    assert [m.seq for m in state.outbox.take_unsent()] == [1, 2, 3]
    state.received(Ack(2), 1.0)
    state.received(Ack(2, duplicate=True), 1.0)
    state.closed(2.0, reason="network")
    state.opened(3.0)
    assert [m.seq for m in state.outbox.take_unsent()] == [1, 3]
    assert state.stats.acks == 2
    assert state.stats.duplicate_acks == 1
    assert state.stats.reconnects == 1
    assert state.stats.connected_at == [0.0, 3.0]


def test_clean_closes_reconnect_with_the_server_floor_under_the_backoff() -> None:
    state = _state()
    state.opened(0.0)
    decision = state.closed(1.0, reason="going away", close_code=1001, retry_after=0.5)
    assert decision.reconnect
    assert decision.delay == 1.5  # 0.5 s floor + full first jitter ceiling (1 s)
    for code in (1000, 1012, 1006, None):
        assert state.closed(1.0, reason="x", close_code=code).reconnect


def test_close_codes_a_retry_cannot_fix_stop_the_client() -> None:
    state = _state()
    for code in (1008, 1009):
        assert not state.closed(1.0, reason="policy", close_code=code).reconnect
    assert not state.closed(1.0, reason="HTTP 400", fatal=True).reconnect


def test_sse_retry_is_the_floor_when_the_close_brings_none() -> None:
    state = _state()
    state.server_retry = 3.0
    assert state.closed(0.0, reason="stream ended").delay == 4.0


def test_an_absurd_server_hint_is_capped() -> None:
    state = _state()
    state.server_retry = 10**9
    assert state.closed(0.0, reason="stream ended").delay == MAX_SERVER_FLOOR + 1.0


def test_backoff_grows_against_a_server_that_answers_then_fails() -> None:
    state = _state()
    delays = [state.closed(float(t), reason="refused").delay for t in range(3)]
    assert delays == [1.0, 2.0, 4.0]
    state.opened(10.0)
    state.closed(11.0, reason="dropped before any byte")
    assert state.backoff.attempt == 4  # opening alone proves nothing
    state.opened(20.0)
    state.received(Position(0), 20.1)  # what every server sends at once
    state.received(HeartbeatMessage(None), 20.5)
    assert state.closed(21.0, reason="dropped").delay == 8.0  # the first byte proves nothing


def test_backoff_resets_after_a_stable_period_or_an_acked_mutation() -> None:
    state = _state(healthy_after=10.0)
    for t in range(3):
        state.closed(float(t), reason="refused")
    state.opened(10.0)
    state.received(HeartbeatMessage(None), 20.0)  # up for 10 s
    assert state.closed(21.0, reason="dropped").delay == 1.0
    state.closed(22.0, reason="refused")
    state.opened(30.0)
    state.outbox.add("noop", None)
    state.outbox.take_unsent()
    state.received(Ack(1), 30.2)
    assert state.closed(30.5, reason="dropped").delay == 1.0


def test_dead_peer_verdict_comes_only_after_the_silence_timeout() -> None:
    state = _state()
    state.opened(100.0)
    state.received(HeartbeatMessage(None), 104.0)
    assert state.silence_remaining(110.0) == 4.0
    assert state.peer_is_dead(113.9) is None
    verdict = state.peer_is_dead(114.5)
    assert verdict is not None
    assert verdict.silent_for == 10.5
    assert state.stats.dead_peers == [verdict]


def test_out_of_band_acks_are_not_proof_of_life_of_the_stream() -> None:
    state = _state()
    state.outbox.add("a")
    state.opened(0.0)
    state.apply(Ack(1), 3.0)
    assert len(state.outbox) == 0
    assert state.peer_is_dead(10.0) is not None


def test_first_ack_of_each_mutation_is_timed_once() -> None:
    state = _state()
    state.outbox.add("a")
    state.outbox.add("b")
    state.opened(0.0)
    state.received(Ack(2), 1.5)
    state.received(Ack(2, duplicate=True), 2.0)  # a replayed ack: already counted
    state.received(Ack(1), 2.5)
    assert list(state.stats.ack_times) == [(2, 1.5), (1, 2.5)]


def test_errors_malformed_and_rejections_are_recorded() -> None:
    state = _state()
    state.outbox.add("a")
    state.opened(0.0)
    state.received(ServerError("INVALID_PAYLOAD", "bad"), 1.0)
    state.received(Malformed("not JSON"), 1.0)
    state.rejected(1, ServerError("HTTP 413"))
    assert state.stats.errors == [ServerError("INVALID_PAYLOAD", "bad"), ServerError("HTTP 413")]
    assert state.stats.malformed == 1
    assert len(state.outbox) == 0
    assert [m.seq for m in state.outbox.rejected] == [1]


def test_a_refused_mutation_is_dropped_but_a_store_failure_is_retried() -> None:
    state = _state()
    for _ in range(2):
        state.outbox.add("incr", {"key": "n"})
    state.opened(0.0)
    state.outbox.take_unsent()
    # Poison: refused for good, never sent again (no endless reconnect loop).
    state.received(ServerError("OUT_OF_RANGE", "too big", seq=1), 1.0)
    # The server's store failed: seq 2 was not applied and must be sent again.
    state.received(ServerError("STORE_FAILED", "store failed", seq=2), 1.0)
    state.closed(2.0, reason="store failed")
    state.opened(3.0)
    assert [m.seq for m in state.outbox.take_unsent()] == [2]


# -- the connection's machine --------------------------------------------------------------


def _in_state(connection: ConnectionState) -> ClientState:
    """A client brought to ``connection`` through its public methods only."""
    state = _state(healthy_after=10.0)
    if connection is not ConnectionState.DISCONNECTED:
        state.opened(0.0)
    if connection is ConnectionState.HEALTHY:
        state.alive(10.0)  # up for healthy_after
    assert state.connection is connection
    return state


@pytest.mark.parametrize(
    ("connection", "event"),
    list(itertools.product(ConnectionState, ConnectionEvent)),
    ids=lambda member: member.value,
)
def test_every_state_and_event_is_a_listed_transition_or_refused(
    connection: ConnectionState, event: ConnectionEvent
) -> None:
    state = _in_state(connection)
    target = TRANSITIONS.get((connection, event))
    if target is None:
        with pytest.raises(InvalidTransition, match=f"{event.value} in state {connection.value}"):
            state._to(event)
        assert state.connection is connection  # a refused event changes nothing
    else:
        state._to(event)
        assert state.connection is target


def test_the_table_refuses_only_what_a_caller_never_does() -> None:
    refused = set(itertools.product(ConnectionState, ConnectionEvent)) - set(TRANSITIONS)
    assert refused == {
        (ConnectionState.OPEN, ConnectionEvent.OPENED),
        (ConnectionState.HEALTHY, ConnectionEvent.OPENED),
        (ConnectionState.DISCONNECTED, ConnectionEvent.PROVED),
        (ConnectionState.HEALTHY, ConnectionEvent.PROVED),
    }
    # Every event ends somewhere from some state, and every state is reachable.
    assert {event for _, event in TRANSITIONS} == set(ConnectionEvent)
    assert set(TRANSITIONS.values()) == set(ConnectionState)


def test_a_connection_goes_open_healthy_and_back_through_the_public_methods() -> None:
    state = _state(healthy_after=10.0)
    assert state.connection is ConnectionState.DISCONNECTED and not state.connected
    state.closed(1.0, reason="connect failed")  # an attempt that never opened
    assert state.connection is ConnectionState.DISCONNECTED
    state.opened(2.0)
    assert state.connection is ConnectionState.OPEN and state.connected
    state.alive(11.9)
    assert state.connection is ConnectionState.OPEN  # not up for healthy_after yet
    state.alive(12.0)
    assert state.connection is ConnectionState.HEALTHY and state.connected
    state.alive(30.0)
    state.received(Ack(1), 30.0)  # already proven: nothing more to prove
    assert state.connection is ConnectionState.HEALTHY
    state.closed(31.0, reason="dropped")
    assert state.connection is ConnectionState.DISCONNECTED and not state.connected


def test_opening_a_second_connection_while_one_is_up_is_refused() -> None:
    state = _state()
    state.opened(0.0)
    with pytest.raises(InvalidTransition, match="opened in state open"):
        state.opened(1.0)
    assert state.stats.connects == 1  # the refused open counted nothing


def test_an_adapter_that_stops_drops_the_connection_however_often_it_says_so() -> None:
    state = _state()
    state.opened(0.0)
    state.dropped()  # close() cancelled the reader mid-connection
    assert state.connection is ConnectionState.DISCONNECTED and not state.connected
    state.dropped()  # and the reconnect loop's end says it again
    assert state.connection is ConnectionState.DISCONNECTED
    assert state.stats.disconnects == []  # no close, no reconnect decision
    with pytest.raises(AttributeError):
        state.connected = True  # type: ignore[misc]  # only opened() opens a connection
    assert not state.connected
