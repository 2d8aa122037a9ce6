"""Sample frames from a segment at the camera's rate, decoding as little as possible.

Measured in bench/sampling_bench.py (BENCHMARKS.md, "Frame sampling"): on a
25 fps camera segment, decoding only the key frames costs about a quarter of
decoding every frame, and colour-converting only the sampled frames saves the
rest. So, with PyAV (FFmpeg's decoder, in-process):
- when the stream's key frames come at least as often as samples are due
  (learned from the previous segment), only key frames are decoded;
- otherwise every frame is decoded but only the sampled ones are converted.

Sampling times are absolute (UTC) and carried from one segment to the next, so
a camera watched at 1 fps gets one frame a second across segment boundaries,
whatever the segment lengths.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np

log = logging.getLogger(__name__)


class CorruptSegment(RuntimeError):
    """The segment has no decodable video."""


@dataclass
class Sampler:
    """The sampling schedule of one camera, kept across segments."""

    fps: float
    next_due: datetime | None = None
    # Largest gap between key frames in the last segment; None until one was decoded in full.
    keyframe_interval_s: float | None = None

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=1.0 / self.fps)

    def due(self, ts: datetime) -> bool:
        """Whether the frame shot at ``ts`` is sampled; advances the schedule when it is.

        The schedule advances by whole intervals, so sampling key frames that are not
        exactly one interval apart still averages ``fps``.
        """
        if self.next_due is not None and self.next_due - 10 * self.interval <= ts < self.next_due:
            return False
        if self.next_due is None or ts >= self.next_due + self.interval or ts < self.next_due:
            self.next_due = ts + self.interval  # first frame, a gap, or the clock jumped back
        else:
            self.next_due += self.interval
        return True

    def keyframes_suffice(self) -> bool:
        return self.keyframe_interval_s is not None and self.keyframe_interval_s <= 1.0 / self.fps + 1e-3


def sample_segment(path: Path, start: datetime, sampler: Sampler) -> list[tuple[np.ndarray, datetime]]:
    """(BGR image, UTC shot time) of each sampled frame; ``start`` is the segment's first frame time."""
    if sampler.keyframes_suffice():
        frames = _decode(path, start, sampler, keyframes_only=True)
        if frames:
            return frames
    return _decode(path, start, sampler, keyframes_only=False)


def _decode(path: Path, start: datetime, sampler: Sampler, keyframes_only: bool) -> list[tuple[np.ndarray, datetime]]:
    frames: list[tuple[np.ndarray, datetime]] = []
    keyframe_times: list[float] = []
    origin: float | None = None
    try:
        # These options reach only the decoder of the stream probe (avformat_find_stream_info),
        # which otherwise decodes the first frames of every segment to learn their pixel
        # format: 14 ms of a 720p one. The frames we decode tell us that themselves; our own
        # decoder is configured below.
        with av.open(str(path), options={"skip_frame": "all"}) as container:
            if not container.streams.video:
                raise CorruptSegment(f"no video stream in {path.name}")
            stream = container.streams.video[0]
            # One thread: a node runs one decoder per camera, so decoder threads add CPU
            # (synchronisation) without adding throughput. Measured on 720p key frames:
            # 29 ms per 2 s segment single-threaded, 35 with slice threads, 55 with frame threads.
            stream.thread_type = "NONE"
            if keyframes_only:
                stream.codec_context.skip_frame = "NONKEY"
            for frame in container.decode(stream):
                t = float(frame.time or 0.0)
                origin = t if origin is None else origin
                if frame.key_frame:
                    keyframe_times.append(t)
                ts = start + timedelta(seconds=max(t - origin, 0.0))
                if sampler.due(ts):
                    frames.append((frame.to_ndarray(format="bgr24"), ts))
    except (av.error.FFmpegError, ValueError) as exc:
        if not frames:
            raise CorruptSegment(f"cannot decode {path.name}: {exc}") from exc
        log.warning("segment %s truncated after %d samples: %s", path.name, len(frames), exc)
    if origin is None:
        raise CorruptSegment(f"no decodable frame in {path.name}")
    # Learnt from every segment, key frames only included: a camera whose key frames become
    # rarer falls back to the full decode on its next segment.
    _learn_keyframe_interval(sampler, keyframe_times)
    return frames


def _learn_keyframe_interval(sampler: Sampler, keyframe_times: list[float]) -> None:
    gaps = np.diff(keyframe_times)
    # One key frame per segment says nothing of the gap to the next: assume the worst.
    sampler.keyframe_interval_s = float(gaps.max()) if len(gaps) else None
