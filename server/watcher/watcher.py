"""The watcher of one camera: lease, source, state machine; the data path is in pipeline.py.

Runs until asked to stop (the stop event: SIGTERM, a restart generation, a stop
request, the camera disabled or deleted) or until it loses its lease. The lease
and the stop requests are looked after by a keeper thread (keeper.py), so
neither depends on how long one step of the loop takes. Whatever happens, the
watcher stores what it computed, closes previews and ffmpeg children, releases
its lease and removes its segment folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy.orm import Session, sessionmaker

from detector_client import ObjectDetectorClient
from server.metrics import WatcherMetrics
from server.watcher.backoff import Backoff
from server.watcher.heartbeat import Heartbeat, WatcherState
from server.watcher.hls import HlsSource, SourceError
from server.watcher.keeper import LeaseKeeper
from server.watcher.lease import Lease, current_generation, pending_key, stop_key
from server.watcher.pipeline import CameraGone, CameraSettings, Pipeline, segment_start
from server.watcher.sampling import CorruptSegment, Sampler, sample_segment
from server.watcher.segmenter import FfmpegSegmenter, is_hls_url
from server.watcher.state import Observation, Trouble, next_state

log = logging.getLogger(__name__)

# Settings (camera, processors) are read from the database at most this often: before the
# first segment, then between polls and between segments (so a corrected URL is followed
# and a disabled camera stops even when no segment arrives). Reading them for every segment
# cost about 5 % of a watcher's CPU (bench/watcher_bench.py profile).
SETTINGS_EVERY_S = 5.0


@dataclass
class WatcherDeps:
    """The real parts a watcher talks to, built once per worker process (see tasks.py)."""

    config: dict[str, Any]
    sessions: sessionmaker[Session]
    redis: redis.Redis
    detector: ObjectDetectorClient
    context_factory: Any  # (CameraSettings) -> ProcessorContext
    previews_factory: Any  # () -> preview manager or None
    http: Any  # requests.Session


class CameraLog(logging.LoggerAdapter):
    """Every watcher line says which camera it is about."""

    def process(self, msg: str, kwargs: Any) -> tuple[str, Any]:
        kwargs["extra"] = {**self.extra, **kwargs.get("extra", {})}
        return f"camera {self.extra['camera_id']}: {msg}", kwargs


class Watcher:
    def __init__(self, camera_id: int, deps: WatcherDeps, stop: threading.Event | None = None) -> None:
        self.camera_id = camera_id
        self.deps = deps
        self.stop = stop or threading.Event()
        self.log = CameraLog(log, {"camera_id": camera_id})
        self.lease = Lease(deps.redis, camera_id, deps.config["WATCHER_LEASE_TTL_S"])
        self.state = WatcherState.STARTING
        self.last_segment_at: float | None = None
        self.previous_end: datetime | None = None
        self.lag_s: float | None = None
        self.metrics = WatcherMetrics(deps.redis, camera_id)
        self.workdir = Path(deps.config["SEGMENTS_DIR"]) / str(camera_id)
        self.segmenter: FfmpegSegmenter | None = None
        self.source: HlsSource | None = None
        self.sampler: Sampler | None = None
        self.url: str | None = None
        self.keeper: LeaseKeeper | None = None
        self.stream = Trouble("stream", self.log)
        self._reloaded_at = 0.0
        self.pipeline = Pipeline(camera_id, deps.sessions, deps.detector, deps.context_factory, None,
                                 self._waiting_for_detector, self.stop, self.log, progress=self._pulse)

    # --- lifecycle -------------------------------------------------------------
    def run(self) -> bool:
        """Watch until stopped; False if another watcher holds the camera already."""
        if not self.lease.acquire(self._beat()):
            self.log.info("already watched elsewhere; this watcher exits")
            return False
        self.log.info("watching (node %s, pid %d)", socket.gethostname(), os.getpid())
        try:
            self.deps.redis.delete(pending_key(self.camera_id), stop_key(self.camera_id))
            self.keeper = LeaseKeeper(self.lease, self._beat, self.stop, current_generation(self.deps.redis),
                                      self.log)
            self.keeper.start()
            self._prepare()
            self._loop()
        except CameraGone as exc:
            self.log.info("%s; stopping", exc)
        finally:
            self._shutdown()
        return True

    def _prepare(self) -> None:
        """Clean the segment folder (a crashed predecessor may have left files) and open the source."""
        camera = self._settings()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._open_source(camera)
        self.pipeline.previews = self.deps.previews_factory()

    def _open_source(self, camera: CameraSettings) -> None:
        """Read ``camera.stream_url``: HLS directly, anything else through an ffmpeg child."""
        if self.segmenter is not None:
            self.segmenter.stop()
            self.segmenter = None
        self.url = url = camera.stream_url
        if not is_hls_url(url):
            self.segmenter = FfmpegSegmenter(url, self.workdir / "ffmpeg")
            url = str(self.segmenter.playlist)
        self.source = HlsSource(url, self.workdir, self.deps.http)
        self.sampler = Sampler(camera.watch_fps)
        self.previous_end = None

    def _follow_url(self, camera: CameraSettings) -> bool:
        """True if the camera's URL changed and the source was reopened on the new one."""
        if camera.stream_url == self.url:
            return False
        self.log.info("stream URL changed; reading the new one")
        self._open_source(camera)
        return True

    def _loop(self) -> None:
        # Waits stay short so that the loop's pulse (the keeper's proof of life) keeps beating.
        backoff = Backoff(initial_s=1.0, maximum_s=min(30.0, max(1.0, self.lease.ttl_s / 3)))
        while not self.stop.is_set():
            self.keeper.pulse()
            polled_at = time.monotonic()
            found = self._poll_once()
            source_ok = found is not None
            self.pipeline.flush()
            # Also when polls succeed with nothing new (an origin serving a stale playlist).
            self._follow_url(self._settings())
            self._transition(Observation(source_ok=source_ok,
                                         detector_ok=not self.pipeline.detector_trouble.failing))
            if source_ok:
                backoff.reset()
                # A new segment appears once per target duration: a poll that found one comes
                # back a target duration after it began; after an empty poll, half of one.
                target = self.source.target_duration_s
                delay = max(0.0, target - (time.monotonic() - polled_at)) if found else target / 2
            else:
                delay = backoff.next_delay()
            self.stop.wait(delay)

    def _settings(self) -> CameraSettings:
        """The camera's settings, read again if SETTINGS_EVERY_S have passed (raises CameraGone)."""
        if self.pipeline.camera is None or time.monotonic() - self._reloaded_at >= SETTINGS_EVERY_S:
            self._reloaded_at = time.monotonic()
            return self.pipeline.reload()
        return self.pipeline.camera

    def _poll_once(self) -> int | None:
        """Process the new segments; how many there were, None when the source failed."""
        try:
            if self.segmenter is not None:
                self.segmenter.ensure_running()
        except SourceError as exc:  # ffmpeg keeps dying
            self.stream.failed(exc)
            return None
        try:
            segments = self.source.poll()
        except SourceError as exc:
            # A local playlist that is not there yet is ffmpeg starting, not worth a warning.
            if self.segmenter is None or self.segmenter.playlist.exists():
                self.stream.failed(exc)
            return None
        self.stream.recovered()
        if segments:
            self._transition(Observation(detector_ok=not self.pipeline.detector_trouble.failing))
        source = self.source
        for segment in segments:
            try:
                # A segment of a URL the camera no longer has is not processed.
                if not self.stop.is_set() and self.source is source:
                    self._handle(segment)
            finally:
                segment.path.unlink(missing_ok=True)
        return len(segments)

    def _handle(self, segment) -> None:
        camera = self._settings()
        if self._follow_url(camera):
            return
        self.keeper.pulse()
        if self.sampler.fps != camera.watch_fps:
            self.sampler = Sampler(camera.watch_fps)
        start = segment_start(segment.program_date_time, segment.downloaded_at, segment.duration_s,
                              self.previous_end)
        self.previous_end = start + timedelta(seconds=segment.duration_s)
        try:
            samples = sample_segment(segment.path, start, self.sampler)
        except CorruptSegment as exc:
            self.log.warning("segment %s skipped: %s", segment.uri, exc)
            self.metrics.record({"corrupt_segments": 1})
            return
        self.pipeline.process(samples)
        self.pipeline.flush()
        self.last_segment_at = time.time()
        self.lag_s = round(self.last_segment_at - self.previous_end.timestamp(), 3)
        stats, detector_seconds = self.pipeline.take_stats()
        self.metrics.record({"segments": 1, **stats}, detector_seconds)

    def _shutdown(self) -> None:
        try:
            self._transition(Observation(stopping=True))
            if not self.pipeline.flush():
                self.log.error("could not store %d pending events before stopping",
                               sum(len(v) for v in self.pipeline.pending.values()))
            self.pipeline.close()
            if self.segmenter is not None:
                self.segmenter.stop()
            shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            # Whatever failed above, the lease goes back (the keeper stops first, or its next
            # tick would take the lease again).
            if self.keeper is not None:
                self.keeper.close()
            else:
                with contextlib.suppress(redis.RedisError):
                    self.lease.release()
            self.log.info("stopped")

    # --- coordination ----------------------------------------------------------
    def _pulse(self) -> None:
        if self.keeper is not None:
            self.keeper.pulse()

    def _waiting_for_detector(self) -> bool:
        """The detector is down mid-segment: say so now; False if the watcher lost its camera."""
        self._transition(Observation(detector_ok=False))
        self.keeper.pulse()
        return not self.keeper.lost

    def _transition(self, observed: Observation) -> None:
        state = next_state(observed)
        if state != self.state:
            self.log.info("state %s -> %s", self.state.value, state.value)
            self.state = state
            if self.keeper is not None:
                self.keeper.publish()

    def _beat(self) -> Heartbeat:
        return Heartbeat(camera_id=self.camera_id, node=socket.gethostname(), pid=os.getpid(),
                         state=self.state.value, last_segment_at=self.last_segment_at, updated_at=time.time(),
                         lag_s=self.lag_s)
