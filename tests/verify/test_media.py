"""media-over-rtp: the runtime's synthetic media over RTP against the same frames over a
WebSocket, under the same loss and round trip (real aiortc peers and a real WebSocket on
127.0.0.1; real kernel loss in a namespace the run makes when this machine allows it)."""

from __future__ import annotations

import asyncio

import pytest

from selector.runtime.rtc import aiortc_available
from selector.verify.media import (
    FrameStats,
    MediaResult,
    measure_media,
    media_factor,
    media_kinds,
)
from selector.verify.netns import kernel_loss_unavailable

needs_aiortc = pytest.mark.skipif(
    not aiortc_available(), reason="aiortc missing: pip install '.[webrtc]'"
)
KERNEL_WHY = kernel_loss_unavailable()
#: A deadline far above loopback latency (a few ms) and far below the retransmission
#: timeout TCP waits out in the model (200 ms at least): a frame is late only if it waited.
DEADLINE_MS = 150.0
LOSS_PCT = 5.0


def test_media_kinds_follow_the_profile() -> None:
    assert media_kinds("audio") == ("audio",)
    assert media_kinds("audio_video") == ("audio", "video")
    assert media_kinds("none") == ()


def _result(rtp: tuple[int, int], ws: tuple[int, int], in_kernel: bool) -> MediaResult:
    """A result with (lost, late) per transport under loss and nothing missed without."""
    stats = {}
    for transport, (lost, late) in (("rtp", rtp), ("websocket", ws)):
        stats[(transport, "audio", "clean")] = FrameStats(100, 0, 0, 20.0, 30.0)
        stats[(transport, "audio", "lossy")] = FrameStats(100, lost, late, 20.0, 300.0)
    return MediaResult(("audio",), 40.0, 5.0, 150.0, "how", in_kernel, stats)


def test_factor_judges_frames_that_miss_the_deadline_against_the_rules_side() -> None:
    fewer_over_rtp = _result(rtp=(5, 0), ws=(0, 30), in_kernel=False)
    for protocol in ("webrtc", "websocket"):
        factor = media_factor("media-needs-rtp", protocol, fewer_over_rtp, favours_rtp=True)
        assert factor.outcome == "supported", factor
        assert factor.measured is not None and factor.measured.values["websocket_late"] == 30
    ws_rule = media_factor("server-to-server-audio", "websocket", fewer_over_rtp, favours_rtp=False)
    assert ws_rule.outcome == "contradicted"
    more_over_rtp = _result(rtp=(5, 0), ws=(0, 0), in_kernel=True)
    factor = media_factor("media-needs-rtp", "webrtc", more_over_rtp, favours_rtp=True)
    assert factor.outcome == "contradicted"
    assert "5 frames missed over RTP against 0" in factor.why
    assert "RFC 8985" in factor.why  # how Linux recovers a loss is said
    ws_rule = media_factor("server-to-server-audio", "websocket", more_over_rtp, favours_rtp=False)
    assert ws_rule.outcome == "supported"


def _measure(kernel: bool, kinds: tuple[str, ...]) -> MediaResult:
    return asyncio.run(
        measure_media(kinds, rtt_ms=40.0, loss_pct=LOSS_PCT, deadline_ms=DEADLINE_MS, kernel=kernel)
    )


@needs_aiortc
def test_modelled_loss_makes_websocket_frames_late_and_rtp_frames_lost() -> None:
    result = _measure(kernel=False, kinds=("audio",))
    assert not result.in_kernel and "modelled" in result.loss_how
    rtp0, ws0 = result.total("rtp", "clean"), result.total("websocket", "clean")
    rtp, ws = result.total("rtp", "lossy"), result.total("websocket", "lossy")
    # Every 20 ms frame of two seconds was sent on both transports.
    assert min(rtp0.sent, ws0.sent, rtp.sent, ws.sent) >= 90
    # A clean path delivers everything in time on both.
    assert rtp0.unusable == 0 and ws0.unusable == 0, result.stats
    # Under loss RTP loses frames but holds none back; TCP loses none but holds them back.
    assert rtp.lost > 0 and ws.lost == 0, result.stats
    assert ws.late - ws0.late > rtp.late - rtp0.late, result.stats


@needs_aiortc
@pytest.mark.skipif(KERNEL_WHY is not None, reason=f"kernel loss unavailable: {KERNEL_WHY}")
def test_kernel_loss_drops_rtp_frames_and_tcp_recovers_them() -> None:
    result = _measure(kernel=True, kinds=("audio", "video"))
    assert result.in_kernel and "namespace" in result.loss_how
    # The loss is real: audio frames (one packet each, never retransmitted) are lost ... A
    # 5 % drop spares all 100 frames of a run about once in 170 (0.95 ** 100: seen once in
    # CI), so a run that lost none is measured once more (then about once in 30,000).
    if result.stats[("rtp", "audio", "lossy")].lost == 0:
        result = _measure(kernel=True, kinds=("audio", "video"))
    audio_rtp = result.stats[("rtp", "audio", "lossy")]
    assert audio_rtp.lost > 0, result.stats
    # ... while TCP retransmits every lost segment: the WebSocket loses no frame.
    assert result.total("websocket", "lossy").lost == 0, result.stats
    # Video is retransmitted on NACK (RTX), so RTP recovers most of its frames.
    video_rtp = result.stats[("rtp", "video", "lossy")]
    assert video_rtp.lost < video_rtp.sent // 2, result.stats
    # TCP's recovery shows in the WebSocket's tail; RTP's frames that arrive do not wait. The
    # p99 of 100 frames is the worst frame or two, so one scheduling stall of a loaded machine
    # can put an RTP frame late: the direction must show in one of at most two runs.
    growths = [_tail_growths(result)]
    if growths[0][0] <= growths[0][1]:
        growths.append(_tail_growths(_measure(kernel=True, kinds=("audio",))))
    assert any(ws_growth > rtp_growth for ws_growth, rtp_growth in growths), growths


def _tail_growths(result: MediaResult) -> tuple[float, float]:
    """How much the lossy path adds to the audio p99: (WebSocket, RTP), in ms."""
    ws0, ws = (
        result.stats[("websocket", "audio", "clean")],
        result.stats[("websocket", "audio", "lossy")],
    )
    rtp0, rtp = result.stats[("rtp", "audio", "clean")], result.stats[("rtp", "audio", "lossy")]
    assert None not in (ws0.p99_ms, ws.p99_ms, rtp0.p99_ms, rtp.p99_ms), result.stats
    return (
        float(ws.p99_ms or 0) - float(ws0.p99_ms or 0),
        float(rtp.p99_ms or 0) - float(rtp0.p99_ms or 0),
    )


def test_sse_has_no_media_frames_to_compare() -> None:
    from selector.loading import load_profile
    from selector.rules.loading import default_matrix
    from selector.verify.runner import _media_factor
    from selector.verify.traffic import VerifyOptions
    from tests.conftest import ROOT

    profile = load_profile(ROOT / "profiles" / "video-call.yaml")
    cache: list[MediaResult] = []
    rule = next(r for r in default_matrix().rules if r.id == "media-needs-rtp")
    factor = asyncio.run(
        _media_factor(rule, "sse", profile, VerifyOptions(), cache, lambda _: None)
    )
    assert factor.outcome == "not_measurable" and "text" in factor.why
    assert cache == []  # nothing was run for it


def test_each_media_rule_is_judged_on_its_own_side_from_one_measurement() -> None:
    from selector.loading import load_profile
    from selector.rules.loading import default_matrix
    from selector.verify.runner import _media_factor
    from selector.verify.traffic import VerifyOptions
    from tests.conftest import ROOT

    profile = load_profile(ROOT / "profiles" / "server-audio-transcription.yaml")
    rules = {r.id: r for r in default_matrix().rules}
    # One measurement (already made): RTP lost 5 frames, the WebSocket none in time.
    cache = [_result(rtp=(5, 0), ws=(0, 0), in_kernel=True)]

    def judge(rule: str) -> str:
        factor = asyncio.run(
            _media_factor(rules[rule], "websocket", profile, VerifyOptions(), cache, print)
        )
        return factor.outcome

    assert judge("server-to-server-audio") == "supported"  # websocket +4
    assert judge("media-needs-rtp") == "contradicted"  # webrtc +3
    assert judge("media-to-browser-or-mobile") == "contradicted"  # webrtc +4, websocket -3
    assert len(cache) == 1  # nothing measured again


@needs_aiortc
@pytest.mark.skipif(KERNEL_WHY is not None, reason=f"kernel loss unavailable: {KERNEL_WHY}")
def test_a_machine_refusing_the_link_falls_back_to_the_model_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import selector.verify.media as media

    def refused(one_way_delay_s: float) -> None:
        raise OSError("no TUN device")

    monkeypatch.setattr(media, "delayed_link", refused)
    result = asyncio.run(
        measure_media(("audio",), rtt_ms=40.0, loss_pct=LOSS_PCT, deadline_ms=DEADLINE_MS)
    )
    assert not result.in_kernel
    assert "could not be made: no TUN device" in result.loss_how
