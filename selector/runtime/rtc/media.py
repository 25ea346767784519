"""Synthetic media the runtime's peer sends: real Opus and VP8 frames, encoded once.

When a client's offer asks to receive audio or video (a ``recvonly`` m-line), the runtime's
peer answers with a track of that kind. The frames are encoded once per process, at the
sizes a real call carries (Opus speech at 32 kbit/s in 20 ms frames, RFC 7587 section 3.1.1;
VP8 at 500 kbit/s and 30 frames/s, aiortc's own default video bitrate, with a keyframe every
second), and replayed at their cadence as pre-encoded packets: no encoder runs during a
measurement, so the run measures the transport, not this machine's codecs. The same frames,
at the same cadence, are what a verification sends over a WebSocket to compare.

Imported only for WebRTC runs (it imports aiortc and PyAV).
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import random
from dataclasses import dataclass

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = ["AUDIO", "MEDIA", "VIDEO", "MediaSpec", "SyntheticTrack", "encoded_frames"]


@dataclass(frozen=True)
class MediaSpec:
    """One kind of synthetic media: its cadence and its RTP clock."""

    kind: str
    frame_s: float
    clock_hz: int
    frames: int

    @property
    def ticks_per_frame(self) -> int:
        """RTP timestamp increments between frames."""
        return round(self.frame_s * self.clock_hz)


#: 20 ms Opus frames (RTP clock 48 kHz, RFC 7587); 50 distinct frames, replayed in a loop.
AUDIO = MediaSpec(kind="audio", frame_s=0.02, clock_hz=48_000, frames=50)
#: 30 frames/s VP8 (RTP clock 90 kHz, RFC 7741), one keyframe per 30 frames.
VIDEO = MediaSpec(kind="video", frame_s=1 / 30, clock_hz=90_000, frames=30)
MEDIA = {spec.kind: spec for spec in (AUDIO, VIDEO)}

OPUS_BITRATE = 32_000
VP8_BITRATE = 500_000
VIDEO_SIZE = (320, 240)


def _opus_frames(rng: random.Random) -> tuple[bytes, ...]:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO.clock_hz
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = OPUS_BITRATE
    samples = AUDIO.ticks_per_frame
    packets: list[bytes] = []
    n = 0
    while len(packets) < AUDIO.frames:
        # Noise, not silence: a silent frame encodes to a few bytes.
        frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(rng.randbytes(2 * samples))
        frame.sample_rate = AUDIO.clock_hz
        frame.pts = n * samples
        n += 1
        packets += [bytes(p) for p in codec.encode(frame)]
    return tuple(packets[: AUDIO.frames])


def _vp8_frames(rng: random.Random) -> tuple[bytes, ...]:
    width, height = VIDEO_SIZE
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = VP8_BITRATE
    codec.time_base = fractions.Fraction(1, 30)
    codec.framerate = fractions.Fraction(30)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    for i in range(VIDEO.frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        for k, plane in enumerate(frame.planes):
            line = plane.line_size
            rows = plane.buffer_size // line
            # A moving gradient with a noisy patch: sizes like a talking head, not like noise.
            data = bytearray(bytes((x * 3 + i * 4 * (k + 1)) % 256 for x in range(line)) * rows)
            for y in range(rows // 4):
                at = (y + i * 2) * line + (i * 3) % (line // 2)
                data[at : at + line // 4] = rng.randbytes(line // 4)
            plane.update(bytes(data))
        frame.pts = i
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    return tuple(packets[: VIDEO.frames])


@functools.cache
def encoded_frames(kind: str) -> tuple[bytes, ...]:
    """The encoded frames of ``kind`` ("audio" or "video"), made once per process."""
    rng = random.Random(f"synthetic-{kind}")
    return _opus_frames(rng) if kind == "audio" else _vp8_frames(rng)


class SyntheticTrack(MediaStreamTrack):
    """A track replaying :func:`encoded_frames` at their cadence as pre-encoded packets.

    Frame ``n`` carries the RTP timestamp ``n * ticks_per_frame`` after the stream's random
    origin, so a receiver can tell which frame a packet belongs to."""

    def __init__(self, spec: MediaSpec) -> None:
        super().__init__()
        self.kind = spec.kind
        self.spec = spec
        self.frames = encoded_frames(spec.kind)
        self._sent = 0
        self._start: float | None = None
        self._time_base = fractions.Fraction(1, spec.clock_hz)

    async def recv(self) -> av.Packet[av.stream.Stream]:
        """The next frame, at its time."""
        if self.readyState != "live":
            raise MediaStreamError
        # The loop's clock, not an injected one: aiortc's RTP sender, RTCP and the receiver's
        # jitter buffer run on real time, so frames must leave at their real cadence.
        loop = asyncio.get_running_loop()
        n = self._sent
        if self._start is None:
            self._start = loop.time()
        await asyncio.sleep(max(0.0, self._start + n * self.spec.frame_s - loop.time()))
        packet = av.Packet(self.frames[n % len(self.frames)])
        packet.pts = n * self.spec.ticks_per_frame
        packet.time_base = self._time_base
        self._sent += 1
        return packet
