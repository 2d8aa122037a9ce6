"""Which way of sampling N frames a second out of a camera segment costs least CPU?

Makes 2 s H.264 segments at 25 fps (GOP 2 s, as many cameras send) from the
sample video, then samples them at 1 and 5 fps with each candidate and reports
CPU ms per segment (process time: user+sys of this process and its children).

    .venv/bin/python bench/sampling_bench.py [--video PATH] [--segments 10]

PyAV (av) is in requirements.txt: the watcher uses it.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.watcher.sampling import Sampler, sample_segment

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "vtest.avi"


def cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def make_segments(video: Path, folder: Path, count: int, gop: int) -> list[Path]:
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "-1", "-i", str(video), "-t", str(2 * count),
                    "-r", "25", "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop), "-keyint_min", str(gop),
                    "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-f", "hls", "-hls_time", "2", "-hls_list_size",
                    "0", str(folder / "s.m3u8")], check=True)
    return sorted(folder.glob("s*.ts"), key=lambda p: int(p.stem[1:]))


def hypersight_sampler(path: Path, fps: float, start: datetime, sampler: Sampler) -> int:
    """What the watcher runs: PyAV, key frames only where they suffice."""
    return len(sample_segment(path, start, sampler))


def opencv_grab_retrieve(path: Path, fps: float, start: datetime, sampler: Sampler) -> int:
    """grab() decodes every frame; retrieve() converts only the sampled ones."""
    capture, kept, index = cv2.VideoCapture(str(path)), 0, 0
    step = round(25 / fps)
    while capture.grab():
        if index % step == 0:
            capture.retrieve()
            kept += 1
        index += 1
    return kept


def opencv_read_all(path: Path, fps: float, start: datetime, sampler: Sampler) -> int:
    capture, kept, index = cv2.VideoCapture(str(path)), 0, 0
    step = round(25 / fps)
    while True:
        ok, _ = capture.read()
        if not ok:
            break
        kept += index % step == 0
        index += 1
    capture.release()
    return kept


def ffmpeg_fps_filter(path: Path, fps: float, start: datetime, sampler: Sampler) -> int:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"fps={fps}", "-f", "rawvideo",
                          "-pix_fmt", "bgr24", "pipe:1"], capture_output=True, check=True).stdout
    return len(raw) // (768 * 576 * 3)


def pyav_convert_sampled(path: Path, fps: float, start: datetime, sampler: Sampler) -> int:
    import av

    kept = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_t = 0.0
        for frame in container.decode(stream):
            t = float(frame.time or 0)
            if t >= next_t:
                frame.to_ndarray(format="bgr24")
                kept += 1
                next_t = t + 1 / fps
    return kept


def pyav_keyframes_only(path: Path, fps: float, start: datetime, sampler: Sampler) -> int:
    """Only correct when the wanted rate is at most the key-frame rate (here 0.5/s)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        return sum(1 for frame in container.decode(stream) if frame.to_ndarray(format="bgr24") is not None)


CANDIDATES = [opencv_read_all, opencv_grab_retrieve, ffmpeg_fps_filter, pyav_convert_sampled, pyav_keyframes_only,
              hypersight_sampler]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=Path(os.environ.get("HYPERSIGHT_SAMPLE_VIDEO", SHARED)))
    parser.add_argument("--segments", type=int, default=10)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print("| key frames | method | sampled fps | frames kept / segment | CPU ms / segment |")
    print("| --- | --- | --- | --- | --- |")
    for gop in (50, 25):
        with tempfile.TemporaryDirectory() as tmp:
            run(make_segments(args.video, Path(tmp), args.segments, gop), gop)


def run(segments: list[Path], gop: int) -> None:
    for fps in (1.0, 5.0):
        for candidate in CANDIDATES:
            sampler, kept, before = Sampler(fps), 0, cpu_s()
            for index, segment in enumerate(segments):
                start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=2 * index)
                kept += candidate(segment, fps, start, sampler)
            spent = (cpu_s() - before) / len(segments) * 1000
            print(f"| every {gop / 25:g} s | {candidate.__name__} | {fps:g} | {kept / len(segments):.1f} "
                  f"| {spent:.0f} |")


if __name__ == "__main__":
    main()
