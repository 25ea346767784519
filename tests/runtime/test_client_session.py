"""The client's decisions, driven with no sockets and a hand-moved clock."""

from __future__ import annotations

from selector.runtime.protocol.backoff import Backoff
from selector.runtime.protocol.client_session import ClientSession
from selector.runtime.protocol.client_wire import (
    Ack,
    Heartbeat,
    Malformed,
    Resync,
    ServerError,
    ServerEvent,
)


def _session(**options: object) -> ClientSession:
    backoff = Backoff(base=1.0, cap=8.0, random_source=lambda: 1.0)
    return ClientSession(silence_timeout=10.0, backoff=backoff, **options)  # type: ignore[arg-type]


def test_events_are_delivered_once_and_gaps_are_counted() -> None:
    session = _session()
    session.opened(0.0)
    delivered = [session.received(ServerEvent(i, "tick"), 1.0) for i in (1, 2, 2, 1, 5, 6)]
    assert [e.id for e in delivered if e is not None] == [1, 2, 5, 6]
    assert session.stats.duplicate_events == 2
    assert session.stats.missed_ids == 2  # 3 and 4
    assert session.last_event_id == 6


def test_heartbeats_and_resyncs_are_not_stream_events() -> None:
    session = _session(last_event_id=3)
    session.opened(0.0)
    assert session.received(Heartbeat(1), 1.0) is None
    assert session.received(Resync(after=3, oldest=50, latest=80), 1.0) is None
    assert session.stats.events == 0
    assert session.stats.heartbeats == 1
    assert session.stats.resyncs == [Resync(3, 50, 80)]
    assert session.last_event_id == 80  # resume from where live events continue
    assert session.received(ServerEvent(81, "tick"), 2.0) is not None
    assert session.stats.missed_ids == 0


def test_a_resync_from_a_restarted_server_resets_the_resume_point_downwards() -> None:
    session = _session(last_event_id=500)
    session.opened(0.0)
    session.received(Resync(after=500, oldest=1, latest=3), 1.0)
    assert session.last_event_id == 3
    event = session.received(ServerEvent(4, "tick"), 2.0)
    assert event is not None and event.id == 4  # not mistaken for a duplicate


def test_acks_empty_the_outbox_and_every_reconnect_replays_the_rest_in_order() -> None:
    session = _session()
    for i in range(3):
        session.outbox.add("incr", {"by": i})
    session.opened(0.0)
    assert [m.seq for m in session.outbox.take_unsent()] == [1, 2, 3]
    session.received(Ack(2), 1.0)
    session.received(Ack(2, duplicate=True), 1.0)
    session.closed(2.0, reason="network")
    session.opened(3.0)
    assert [m.seq for m in session.outbox.take_unsent()] == [1, 3]
    assert session.stats.acks == 2
    assert session.stats.duplicate_acks == 1
    assert session.stats.reconnects == 1
    assert session.stats.connected_at == [0.0, 3.0]


def test_clean_closes_reconnect_with_the_server_floor_under_the_backoff() -> None:
    session = _session()
    session.opened(0.0)
    decision = session.closed(1.0, reason="going away", close_code=1001, retry_after=0.5)
    assert decision.reconnect
    assert decision.delay == 1.5  # 0.5 s floor + full first jitter ceiling (1 s)
    for code in (1000, 1012, 1006, None):
        assert session.closed(1.0, reason="x", close_code=code).reconnect


def test_close_codes_a_retry_cannot_fix_stop_the_client() -> None:
    session = _session()
    for code in (1008, 1009):
        assert not session.closed(1.0, reason="policy", close_code=code).reconnect
    assert not session.closed(1.0, reason="HTTP 400", fatal=True).reconnect


def test_sse_retry_is_the_floor_when_the_close_brings_none() -> None:
    session = _session()
    session.server_retry = 3.0
    assert session.closed(0.0, reason="stream ended").delay == 4.0


def test_backoff_grows_while_connections_fail_and_resets_once_the_server_answers() -> None:
    session = _session()
    delays = [session.closed(float(t), reason="refused").delay for t in range(3)]
    assert delays == [1.0, 2.0, 4.0]
    session.opened(10.0)
    session.closed(11.0, reason="dropped before any byte")
    assert session.backoff.attempt == 4  # opening alone proves nothing
    session.opened(20.0)
    session.received(Heartbeat(None), 20.5)
    assert session.closed(21.0, reason="dropped").delay == 1.0


def test_dead_peer_verdict_comes_only_after_the_silence_timeout() -> None:
    session = _session()
    session.opened(100.0)
    session.received(Heartbeat(None), 104.0)
    assert session.silence_remaining(110.0) == 4.0
    assert session.peer_is_dead(113.9) is None
    verdict = session.peer_is_dead(114.5)
    assert verdict is not None
    assert verdict.silent_for == 10.5
    assert session.stats.dead_peers == [verdict]


def test_out_of_band_acks_are_not_proof_of_life_of_the_stream() -> None:
    session = _session()
    session.outbox.add("a")
    session.opened(0.0)
    session.apply(Ack(1))
    assert len(session.outbox) == 0
    assert session.peer_is_dead(10.0) is not None


def test_errors_malformed_and_rejections_are_recorded() -> None:
    session = _session()
    session.outbox.add("a")
    session.opened(0.0)
    session.received(ServerError("INVALID_PAYLOAD", "bad"), 1.0)
    session.received(Malformed("not JSON"), 1.0)
    session.rejected(1, ServerError("HTTP 413"))
    assert session.stats.errors == [ServerError("INVALID_PAYLOAD", "bad"), ServerError("HTTP 413")]
    assert session.stats.malformed == 1
    assert len(session.outbox) == 0
    assert [m.seq for m in session.outbox.rejected] == [1]
