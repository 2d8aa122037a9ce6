"""Non-HLS sources (RTSP, RTMP, HTTP, files, webcams) turned into local HLS by an ffmpeg child.

The watcher then consumes the local playlist exactly like a remote one. Video is
copied, not re-encoded, when it is H.264 or HEVC (what cameras send); anything
else (a file in an older codec) is transcoded with a fast preset because the TS
muxer cannot carry it. ffmpeg is restarted when it dies, with a brake: at most
``MAX_RESTARTS`` in ``RESTART_WINDOW_S``, then the source reports itself down.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections import deque
from pathlib import Path

from server.watcher.hls import SourceError

log = logging.getLogger(__name__)

COPYABLE = {"h264", "hevc"}
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
SEGMENT_S = 2


def is_hls_url(url: str) -> bool:
    return url.split("?", 1)[0].lower().endswith((".m3u8", ".m3u"))


def input_args(url: str) -> tuple[list[str], list[str], str]:
    """For a stream URL, a file path or a webcam index: (protocol options, pacing options, input).

    Protocol options (transport, timeouts) are for ffprobe too; pacing is ffmpeg's alone.
    """
    if url.isdigit():
        return ["-f", "v4l2"], [], f"/dev/video{url}"
    if url.startswith("rtsp://"):
        return ["-rtsp_transport", "tcp", "-timeout", "10000000"], [], url
    if "://" not in url or url.startswith("file:"):
        # A file plays at its own pace, like a live camera, and loops.
        return [], ["-re", "-stream_loop", "-1"], url.removeprefix("file:")
    return ["-rw_timeout", "10000000"], [], url


def video_codec(url: str) -> str | None:
    """The first video stream's codec, or None when ffprobe cannot tell (not reachable yet, say)."""
    protocol, _, source = input_args(url)
    try:
        probe = subprocess.run(
            ["ffprobe", "-v", "error", *protocol, "-select_streams", "v:0", "-show_entries", "stream=codec_name",
             "-of", "json", source], capture_output=True, text=True, timeout=20, check=False)
        streams = json.loads(probe.stdout or "{}").get("streams", [])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return streams[0].get("codec_name") if streams else None


class FfmpegSegmenter:
    """One ffmpeg child writing ``workdir/live.m3u8`` from a camera URL."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.playlist = workdir / "live.m3u8"
        self.process: subprocess.Popen | None = None
        self._starts: deque[float] = deque(maxlen=MAX_RESTARTS)
        self._codec: str | None = None

    def command(self) -> list[str]:
        protocol, pacing, source = input_args(self.url)
        if self._codec is None:
            # Probed at every start until it answers: a camera that was unreachable when the
            # watcher started must not be transcoded for the watcher's whole life.
            self._codec = video_codec(self.url)
        video = ["-c:v", "copy"] if self._codec in COPYABLE else [
            "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p"]
        return [
            "ffmpeg", "-nostdin", "-v", "error", *protocol, *pacing, "-i", source, "-map", "0:v:0", *video, "-an",
            # Segment numbers from the clock: a restarted ffmpeg must not reuse names already seen.
            "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_list_size", "10", "-hls_start_number_source", "epoch",
            "-hls_flags", "delete_segments+program_date_time+omit_endlist",
            "-hls_segment_filename", str(self.workdir / "seg%06d.ts"), str(self.playlist),
        ]

    def ensure_running(self) -> None:
        """Start ffmpeg, or restart it if it died; SourceError when it keeps dying."""
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:
            log.warning("ffmpeg for %s exited with %s", self.url, self.process.returncode)
            # The dead ffmpeg's playlist would still read as a live stream with no new segments.
            self.playlist.unlink(missing_ok=True)
        now = time.monotonic()
        if len(self._starts) == MAX_RESTARTS and now - self._starts[0] < RESTART_WINDOW_S:
            raise SourceError(f"ffmpeg for {self.url} died {MAX_RESTARTS} times in {RESTART_WINDOW_S:.0f}s")
        self._starts.append(now)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        log.info("ffmpeg %d segments %s into %s", self.process.pid, self.url, self.workdir)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
