"""Frame sampling: even across segments, key frames only where they suffice, corrupt input refused."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.watcher.sampling import CorruptSegment, Sampler, sample_segment
from tests.support.streams import walker_source

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fps", "times_s", "sampled_s"),
    [
        (1.0, [0.0, 0.1, 0.5, 0.99, 1.0, 1.5, 2.0], [0.0, 1.0, 2.0]),
        (2.0, [i / 10 for i in range(21)], [0.0, 0.5, 1.0, 1.5, 2.0]),
        # Key frames every 0.4 s sampled at 1 fps still average one a second (no drift to 1.2 s).
        (1.0, [0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8, 3.2], [0.0, 1.2, 2.0, 3.2]),
        # A gap in the stream restarts the schedule at the next frame.
        (1.0, [0.0, 1.0, 7.3, 7.5, 8.3], [0.0, 1.0, 7.3, 8.3]),
        # The clock jumping back (a restarted camera) resynchronises.
        (1.0, [100.0, 101.0, 5.0, 5.5, 6.0], [100.0, 101.0, 5.0, 6.0]),
    ],
)
def test_sampler_schedule(fps, times_s, sampled_s):
    sampler = Sampler(fps)
    kept = [t for t in times_s if sampler.due(T0 + timedelta(seconds=t))]
    assert kept == sampled_s


def make_segment(path: Path, seconds: int, gop: int) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", *walker_source(fps=10), "-t", str(seconds), "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
                    "-pix_fmt", "yuv420p", "-f", "mpegts", str(path)], check=True)
    return path


def test_segments_sampled_evenly_and_key_frames_learnt(tmp_path):
    first = make_segment(tmp_path / "a.ts", 3, gop=10)
    second = make_segment(tmp_path / "b.ts", 3, gop=10)
    sampler = Sampler(1.0)
    frames = sample_segment(first, T0, sampler)
    assert [ts for _, ts in frames] == [T0 + timedelta(seconds=s) for s in (0, 1, 2)]
    assert frames[0][0].shape == (240, 320, 3)
    assert sampler.keyframe_interval_s == pytest.approx(1.0)
    assert sampler.keyframes_suffice()
    later = sample_segment(second, T0 + timedelta(seconds=3), sampler)
    assert [ts for _, ts in later] == [T0 + timedelta(seconds=s) for s in (3, 4, 5)]


def test_key_frames_too_rare_means_full_decode(tmp_path):
    segment = make_segment(tmp_path / "a.ts", 4, gop=20)
    sampler = Sampler(2.0)
    assert len(sample_segment(segment, T0, sampler)) == 8
    assert not sampler.keyframes_suffice()


def test_key_frames_becoming_rarer_bring_the_full_decode_back(tmp_path):
    sampler = Sampler(1.0)
    sample_segment(make_segment(tmp_path / "a.ts", 3, gop=10), T0, sampler)
    assert sampler.keyframes_suffice()
    # The camera's key frames now come every 2 s: the key-frame-only decode notices it...
    sample_segment(make_segment(tmp_path / "b.ts", 4, gop=20), T0 + timedelta(seconds=3), sampler)
    assert not sampler.keyframes_suffice()
    # ...and the next segment is decoded in full, one frame a second again.
    later = sample_segment(make_segment(tmp_path / "c.ts", 4, gop=20), T0 + timedelta(seconds=7), sampler)
    assert [ts for _, ts in later] == [T0 + timedelta(seconds=s) for s in (7, 8, 9, 10)]


@pytest.mark.parametrize("content", [b"", b"\x47" * 188 * 20, b"not a video at all" * 100])
def test_corrupt_segment(tmp_path, content):
    path = tmp_path / "bad.ts"
    path.write_bytes(content)
    with pytest.raises(CorruptSegment):
        sample_segment(path, T0, Sampler(1.0))
