"""Annotated HLS previews: one ffmpeg child per processor, fed raw BGR frames.

A processor with ``output_hls`` hands each annotated frame to
:class:`PreviewManager`; its :class:`PreviewWriter` pipes the frames into ffmpeg,
which writes a bounded, self-cleaning HLS playlist under
``PROCESSORS_PREVIEW_DIR/<processor_id>/index.m3u8`` that the web app serves at
``/videos/<processor_id>/index.m3u8``.

Why the shape:

* The watcher must never wait on ffmpeg, so frames go through a small bounded
  queue to a writer thread; when ffmpeg falls behind or hangs, the oldest queued
  frame is dropped (a live preview wants the newest) and the drop is logged once.
* ffmpeg dying is noticed (``poll()`` or a broken pipe) and it is restarted with
  ``append_list`` so that the playlist continues behind an ``EXT-X-DISCONTINUITY``;
  a brake (Frigate's watchdog: at most ``max_restarts`` in ``restart_window_s``)
  stops a crash loop: the writer then stays closed and says so once.
* The video keeps the frames' clock: a frame that comes late (frames slower
  than ``fps``, a dropped one) is repeated to fill its time, one that comes early
  is skipped. A new frame size or rate, or a gap longer than ``max_drift_s``,
  restarts ffmpeg on purpose; those restarts do not count against the brake.
* ``EXT-X-PROGRAM-DATE-TIME`` is ffmpeg's wall clock at start plus media time
  (ffmpeg offers no way to set it): frames arrive live, so it is later than the
  frames' UTC capture times by the watcher's latency; the drift restart keeps it
  from wandering further.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

log = logging.getLogger(__name__)

PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg%d.ts"
_BASE_FLAGS = "delete_segments+program_date_time+independent_segments+temp_file+omit_endlist"
_STOP = object()  # the last item the writer thread takes from its queue


@dataclass(frozen=True)
class PreviewOptions:
    """How previews are encoded and how hard the writer tries; defaults suit 1-5 fps cameras."""

    segment_s: int = 2
    list_size: int = 5
    queue_frames: int = 8
    max_restarts: int = 5
    restart_window_s: float = 60.0
    max_drift_s: float = 10.0
    stop_timeout_s: float = 5.0
    preset: str = "veryfast"
    ffmpeg_cmd: str = "ffmpeg"


@dataclass(frozen=True)
class FrameFormat:
    """What ffmpeg is told about the raw frames; a change needs a new ffmpeg."""

    width: int
    height: int
    fps: float


class RestartBrake:
    """At most ``limit`` restarts within a sliding ``window_s``, so a crash loop ends."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


def hls_command(fmt: FrameFormat, directory: Path, options: PreviewOptions, *, append: bool) -> list[str]:
    """The ffmpeg command line for one preview (pure, so tests can read it).

    A fresh playlist numbers its segments from the epoch, so the media sequence
    only grows across writers and a cache never serves an old segment under a
    reused name; a restart appends to the existing playlist behind a discontinuity.
    """
    gop = max(1, round(fmt.fps * options.segment_s))
    flags = _BASE_FLAGS + ("+append_list+discont_start" if append else "")
    extra: dict[str, Any] = {} if append else {"hls_start_number_source": "epoch"}
    # Without a tiny probe ffmpeg buffers ~5 MB of raw frames (20 small frames) before writing.
    stream = ffmpeg.input(
        "pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{fmt.width}x{fmt.height}", framerate=fmt.fps,
        probesize=32, analyzeduration=0,
    ).output(
        str(directory / PLAYLIST), format="hls", vcodec="libx264", pix_fmt="yuv420p",
        preset=options.preset, tune="zerolatency", g=gop, keyint_min=gop, sc_threshold=0,
        hls_time=options.segment_s, hls_list_size=options.list_size, hls_flags=flags,
        hls_segment_filename=str(directory / SEGMENT_PATTERN), **extra,
    ).global_args("-nostdin", "-loglevel", "error")
    return ffmpeg.compile(stream, cmd=options.ffmpeg_cmd, overwrite_output=True)


def even_frame(frame: np.ndarray) -> np.ndarray:
    """Drop a last odd row or column: H.264 in 4:2:0 needs even sizes."""
    height, width = frame.shape[:2]
    return frame[: height - height % 2, : width - width % 2]


class _Encoder:
    """One ffmpeg child: raw frames in on stdin, the last stderr lines kept for the log."""

    def __init__(self, command: list[str], fmt: FrameFormat) -> None:
        self.fmt = fmt
        self.frames = 0
        self.errors: deque[str] = deque(maxlen=10)
        # Own session: a Ctrl-C meant for the worker must not end ffmpeg behind the writer's back.
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        # ffmpeg blocks if nobody reads its stderr; a tiny thread keeps the last lines.
        self._reader = threading.Thread(target=self._read_stderr, daemon=True, name="preview-stderr")
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line.decode(errors="replace").rstrip())

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def write(self, frame: np.ndarray, copies: int = 1) -> bool:
        """False when ffmpeg is gone (a broken pipe); may block while ffmpeg is slow."""
        assert self.proc.stdin is not None
        data = memoryview(np.ascontiguousarray(frame)).cast("B")
        try:
            for _copy in range(copies):
                self.proc.stdin.write(data)
                self.frames += 1
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def stop(self, timeout_s: float) -> int | None:
        """End ffmpeg cleanly (EOF on stdin lets it finish the segment), else kill it."""
        with contextlib.suppress(OSError):  # already dead: the pipe cannot be flushed
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("ffmpeg %d did not stop within %.0fs; killing it", self.proc.pid, timeout_s)
            self.kill()
        self._reader.join(timeout=timeout_s)
        return self.proc.returncode

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _finish_playlist(directory: Path) -> None:
    """Mark the playlist as ended, so players stop waiting for segments that will not come."""
    path = directory / PLAYLIST
    try:
        text = path.read_text()
    except FileNotFoundError:
        return
    if "#EXT-X-ENDLIST" in text:
        return
    temporary = path.with_suffix(".m3u8.end")
    temporary.write_text(text.rstrip("\n") + "\n#EXT-X-ENDLIST\n")
    os.replace(temporary, path)


def _remove_stale(directory: Path, *, keep_playlist: bool) -> None:
    """Remove half-written files of a dead ffmpeg and segments no playlist refers to."""
    listed: set[str] = set()
    playlist = directory / PLAYLIST
    if keep_playlist and playlist.is_file():
        listed = {line.strip() for line in playlist.read_text().splitlines() if not line.startswith("#")}
    else:
        playlist.unlink(missing_ok=True)
    for path in directory.iterdir():
        if path.name.endswith(".tmp") or (path.suffix == ".ts" and path.name not in listed):
            path.unlink(missing_ok=True)


class PreviewWriter:
    """Feeds one processor's frames to ffmpeg from a thread; ``write`` never waits on ffmpeg."""

    def __init__(self, processor_id: int, preview_dir: str | Path, options: PreviewOptions | None = None):
        self.processor_id = processor_id
        self.options = options or PreviewOptions()
        self.directory = Path(preview_dir) / str(processor_id)
        self.restarts = 0
        self.dropped = 0
        self.failed = False
        self._closing = False
        self._dropping = False
        self._encoder: _Encoder | None = None
        self._first_ts: float | None = None
        self._started = False
        self._died = False
        self._brake = RestartBrake(self.options.max_restarts, self.options.restart_window_s)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=self.options.queue_frames)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"preview-{processor_id}")
        self._thread.start()

    @property
    def pid(self) -> int | None:
        """The pid of the current ffmpeg child, if one runs."""
        encoder = self._encoder
        return encoder.proc.pid if encoder is not None and encoder.alive else None

    @property
    def closed(self) -> bool:
        return self._closing or self.failed

    def write(self, frame: np.ndarray, ts: datetime, fps: float) -> bool:
        """Queue one BGR frame (copied) taken at UTC ``ts``; False when it was not accepted.

        The oldest queued frame makes room when ffmpeg is behind: a preview
        should show now, not a backlog.
        """
        if self.closed:
            return False
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 frame of shape (h, w, 3), got {frame.dtype} {frame.shape}")
        if fps <= 0:
            raise ValueError(f"expected fps > 0, got {fps}")
        item = (even_frame(frame).copy(), ts.timestamp(), float(fps))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._drop_oldest(item)
            return True
        if self._dropping:
            self._dropping = False
            log.info("preview %d: ffmpeg keeps up again (%d frames dropped so far)",
                     self.processor_id, self.dropped)
        return True

    def _drop_oldest(self, item: tuple[np.ndarray, float, float]) -> None:
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()
        self.dropped += 1
        if not self._dropping:
            self._dropping = True
            log.warning("preview %d: ffmpeg is not keeping up; dropping frames", self.processor_id)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Write what is queued, end ffmpeg cleanly (EOF, wait, kill), mark the playlist ended.

        Idempotent. Bounded: a stuck ffmpeg is killed after ``stop_timeout_s``.
        """
        timeout = self.options.stop_timeout_s
        if not self._closing:
            self._closing = True
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:  # the thread is stuck writing to an ffmpeg that stopped reading
                self._kill_stuck()
                with contextlib.suppress(queue.Full):
                    self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout=timeout + 1)
        if self._thread.is_alive():
            self._kill_stuck()
            self._thread.join(timeout=timeout)

    def _kill_stuck(self) -> None:
        encoder = self._encoder
        if encoder is not None:
            log.warning("preview %d: ffmpeg %d is stuck; killing it", self.processor_id, encoder.proc.pid)
            encoder.kill()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not _STOP:
                if not self.failed:
                    self._handle(*item)
        except Exception:  # a bug here must not leave ffmpeg orphaned
            self.failed = True
            log.exception("preview %d: writer thread failed", self.processor_id)
        finally:
            self._stop_encoder()
            if self._started:
                _finish_playlist(self.directory)
            log.info("preview %d: closed (%d restarts, %d frames dropped)",
                     self.processor_id, self.restarts, self.dropped)

    def _handle(self, frame: np.ndarray, ts: float, fps: float) -> None:
        fmt = FrameFormat(frame.shape[1], frame.shape[0], fps)
        self._restart_if_changed(fmt, ts)
        for _attempt in range(2):  # one retry: the frame that found ffmpeg dead goes to the new one
            encoder = self._ensure_encoder(fmt, ts)
            if encoder is None:
                return
            if encoder.write(frame, self._slots(encoder, ts)):
                return
            self._encoder_died(encoder)

    def _slots(self, encoder: _Encoder, ts: float) -> int:
        """How many frames of video this one stands for, so that the video keeps the frames' clock.

        One when frames come at ``fps``; more when they come slower (a mosaic
        batch, a dropped frame): the frame is held until the next; none when it is early.
        """
        assert self._first_ts is not None
        due = round((ts - self._first_ts) * encoder.fmt.fps) + 1
        return max(0, due - encoder.frames)

    def _restart_if_changed(self, fmt: FrameFormat, ts: float) -> None:
        """Planned restarts: a new size or rate, or frame times far from the video's clock."""
        encoder = self._encoder
        if encoder is None or self._first_ts is None:
            return
        drift = ts - (self._first_ts + encoder.frames / encoder.fmt.fps)
        if encoder.fmt != fmt:
            log.info("preview %d: frames are now %dx%d at %g fps; restarting ffmpeg",
                     self.processor_id, fmt.width, fmt.height, fmt.fps)
        elif abs(drift) > self.options.max_drift_s:
            log.info("preview %d: frame time is %.1fs off the video's clock (a gap?); restarting ffmpeg",
                     self.processor_id, drift)
        else:
            return
        self._stop_encoder()

    def _ensure_encoder(self, fmt: FrameFormat, ts: float) -> _Encoder | None:
        if self._encoder is not None and not self._encoder.alive:
            self._encoder_died(self._encoder)
        if self._encoder is not None:
            return self._encoder
        if self._died:
            if self._closing:  # killed by close(), or died while draining: no new ffmpeg
                return None
            if not self._brake.allow(time.monotonic()):
                self._trip()
                return None
            self.restarts += 1
        self._died = False
        return self._start(fmt, ts)

    def _start(self, fmt: FrameFormat, ts: float) -> _Encoder | None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _remove_stale(self.directory, keep_playlist=self._started)
        command = hls_command(fmt, self.directory, self.options, append=self._started)
        try:
            self._encoder = _Encoder(command, fmt)
        except OSError as exc:
            log.error("preview %d: cannot start ffmpeg: %s", self.processor_id, exc)
            self._died = True
            return None
        self._started = True
        self._first_ts = ts
        log.info("preview %d: ffmpeg %d writes %dx%d at %g fps to %s", self.processor_id,
                 self._encoder.proc.pid, fmt.width, fmt.height, fmt.fps, self.directory / PLAYLIST)
        return self._encoder

    def _encoder_died(self, encoder: _Encoder) -> None:
        code = encoder.stop(self.options.stop_timeout_s)
        log.warning("preview %d: ffmpeg %d exited (code %s): %s", self.processor_id, encoder.proc.pid,
                    code, " | ".join(encoder.errors) or "no message")
        self._encoder = None
        self._died = True

    def _trip(self) -> None:
        self.failed = True
        log.error("preview %d: ffmpeg failed %d times within %.0fs; preview stays off until the "
                  "processor's preview is turned off and on again (or the watcher restarts)",
                  self.processor_id, self.options.max_restarts + 1, self.options.restart_window_s)
        _finish_playlist(self.directory)

    def _stop_encoder(self) -> None:
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            encoder.stop(self.options.stop_timeout_s)


class PreviewManager:
    """The preview writers of one watcher, keyed by processor id, created on first frame."""

    def __init__(self, preview_dir: str | Path, options: PreviewOptions | None = None) -> None:
        self.preview_dir = Path(preview_dir)
        self.options = options or PreviewOptions()
        self._writers: dict[int, PreviewWriter] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], options: PreviewOptions | None = None) -> PreviewManager:
        return cls(config["PROCESSORS_PREVIEW_DIR"], options)

    def writer(self, processor_id: int) -> PreviewWriter | None:
        return self._writers.get(processor_id)

    def write(self, processor_id: int, frame: np.ndarray, ts: datetime, fps: float) -> bool:
        """Hand one annotated frame to the processor's writer; False if it was not taken."""
        with self._lock:
            writer = self._writers.get(processor_id)
            if writer is None:
                writer = self._writers[processor_id] = PreviewWriter(processor_id, self.preview_dir,
                                                                     self.options)
        return writer.write(frame, ts, fps)

    def close(self, processor_id: int) -> None:
        """End one preview (its ``output_hls`` was turned off); the next frame starts a fresh one."""
        with self._lock:
            writer = self._writers.pop(processor_id, None)
        if writer is not None:
            writer.close()

    def sync(self, enabled_ids: Iterable[int]) -> None:
        """Close the writers of processors no longer enabled for HLS (called between segments)."""
        keep = set(enabled_ids)
        for processor_id in [pid for pid in list(self._writers) if pid not in keep]:
            self.close(processor_id)

    def close_all(self) -> None:
        for processor_id in list(self._writers):
            self.close(processor_id)
