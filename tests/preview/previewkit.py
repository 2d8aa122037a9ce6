"""Helpers for the preview tests: synthetic frames, real ffprobe/ffmpeg checks, child processes."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from server.preview import PreviewOptions, PreviewWriter
from tests.support.waiting import wait_until

FPS = 2
# A queue longer than any burst the tests write: frames are fed faster than real time
# and no test but the stuck-ffmpeg one wants drops.
TEST_OPTIONS = PreviewOptions(segment_s=2, list_size=3, queue_frames=64, stop_timeout_s=5)


def moving_frames(count: int, width: int = 320, height: int = 240, start: int = 0) -> Iterator[np.ndarray]:
    """Frames with a sliding box and a circling disc, so the encoder has motion to code."""
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(start, start + count):
        frame = np.full((height, width, 3), 40, np.uint8)
        x = (i * 13) % max(1, width - 40)
        frame[height // 6 : height // 6 + 40, x : x + 40] = (0, 0, 255)
        cx = width / 2 + width / 5 * np.cos(i / 3)
        cy = height / 2 + height / 5 * np.sin(i / 3)
        frame[(xx - cx) ** 2 + (yy - cy) ** 2 < (min(width, height) / 10) ** 2] = (0, 255, 0)
        yield frame


def feed(writer: PreviewWriter, frames: Iterator[np.ndarray], t0: datetime, first_index: int = 0) -> int:
    """Write frames stamped ``FPS`` apart from ``t0``; returns how many were accepted."""
    accepted = 0
    for offset, frame in enumerate(frames):
        ts = t0 + timedelta(seconds=(first_index + offset) / FPS)
        accepted += writer.write(frame, ts, FPS)
    return accepted


# Processes here answer in milliseconds: poll often.
wait_for = functools.partial(wait_until, step_s=0.05)


def playlist_segments(playlist: Path) -> list[str]:
    if not playlist.is_file():
        return []
    return [line for line in playlist.read_text().splitlines() if line and not line.startswith("#")]


def probe_streams(path: Path) -> list[dict]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(result.stdout)["streams"]


def decode_errors(path: Path) -> str:
    """Decode the whole playlist; returns ffmpeg's error output (empty when it all decodes)."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def ffmpeg_children() -> list[int]:
    """Pids of ffmpeg processes (zombies included) whose parent is this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if name == "ffmpeg" and ppid == os.getpid():
            found.append(int(entry.name))
    return found
