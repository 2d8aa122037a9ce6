"""The watcher of one camera: lease, source, state machine; the data path is in pipeline.py.

Runs until asked to stop (the stop event: SIGTERM, a restart generation, a stop
request, the camera disabled or deleted) or until it loses its lease. Whatever
happens, it stores what it computed, closes previews and ffmpeg children,
releases its lease and removes its segment folder.
"""

from __future__ import annotations

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
from server.watcher.lease import GENERATION_KEY, Lease, current_generation, pending_key, stop_key
from server.watcher.pipeline import CameraGone, Pipeline, segment_start
from server.watcher.sampling import CorruptSegment, Sampler, sample_segment
from server.watcher.segmenter import FfmpegSegmenter, is_hls_url
from server.watcher.state import Observation, Trouble, next_state

log = logging.getLogger(__name__)


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
        self.generation = 0
        self.stream = Trouble("stream", self.log)
        self.pipeline = Pipeline(camera_id, deps.sessions, deps.detector, deps.context_factory, None,
                                 self._waiting_for_detector, self.stop, self.log,
                                 max_wait_s=max(1.0, self.lease.ttl_s / 3))

    # --- lifecycle -------------------------------------------------------------
    def run(self) -> bool:
        """Watch until stopped; False if another watcher holds the camera already."""
        if not self.lease.acquire(self._beat()):
            self.log.info("already watched elsewhere; this watcher exits")
            return False
        self.deps.redis.delete(pending_key(self.camera_id), stop_key(self.camera_id))
        self.generation = current_generation(self.deps.redis)
        self.log.info("watching (node %s, pid %d)", socket.gethostname(), os.getpid())
        try:
            self._prepare()
            self._loop()
        except CameraGone as exc:
            self.log.info("%s; stopping", exc)
        finally:
            self._shutdown()
        return True

    def _prepare(self) -> None:
        """Clean the segment folder (a crashed predecessor may have left files) and open the source."""
        camera = self.pipeline.reload()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        url = camera.stream_url
        if not is_hls_url(url):
            self.segmenter = FfmpegSegmenter(url, self.workdir / "ffmpeg")
            url = str(self.segmenter.playlist)
        self.source = HlsSource(url, self.workdir, self.deps.http)
        self.sampler = Sampler(camera.watch_fps)
        self.pipeline.previews = self.deps.previews_factory()

    def _loop(self) -> None:
        # Never wait longer than a third of the lease between renewals, or the lease expires.
        backoff = Backoff(initial_s=1.0, maximum_s=min(30.0, max(1.0, self.lease.ttl_s / 3)))
        while not self.stop.is_set():
            if self._asked_to_stop():
                break
            source_ok = self._poll_once()
            self.pipeline.flush()
            self._transition(Observation(source_ok=source_ok,
                                         detector_ok=not self.pipeline.detector_trouble.failing))
            if not self.keep_alive():
                self.log.error("lost the lease; another watcher owns the camera now")
                break
            delay = self.source.target_duration_s / 2 if source_ok else backoff.next_delay()
            if source_ok:
                backoff.reset()
            self.stop.wait(delay)

    def _poll_once(self) -> bool:
        try:
            if self.segmenter is not None:
                self.segmenter.ensure_running()
            segments = self.source.poll()
        except SourceError as exc:
            if self.segmenter is None or self.segmenter.playlist.exists():
                self.stream.failed(exc)
            return False
        self.stream.recovered()
        if segments:
            self._transition(Observation(detector_ok=not self.pipeline.detector_trouble.failing))
        for segment in segments:
            try:
                if not self.stop.is_set():
                    self._handle(segment)
            finally:
                segment.path.unlink(missing_ok=True)
        return True

    def _handle(self, segment) -> None:
        camera = self.pipeline.reload()
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
        self._transition(Observation(stopping=True))
        if not self.pipeline.flush():
            self.log.error("could not store %d pending events before stopping",
                           sum(len(v) for v in self.pipeline.pending.values()))
        self.pipeline.close()
        if self.segmenter is not None:
            self.segmenter.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        try:
            self.lease.release()
        except redis.RedisError as exc:
            self.log.warning("could not release the lease (it expires by itself): %s", exc)
        self.log.info("stopped")

    # --- coordination ----------------------------------------------------------
    def _asked_to_stop(self) -> bool:
        """A newer generation (restart_watchers) or a stop request (ensure_watchers)."""
        try:
            generation, stop_requested = self.deps.redis.mget([GENERATION_KEY, stop_key(self.camera_id)])
        except redis.RedisError:
            return False  # cannot tell; keep watching
        if int(generation or 0) > self.generation:
            self.log.info("watchers restarted (generation %s); stopping", generation)
            return True
        if stop_requested:
            self.log.info("stop requested; stopping")
            return True
        return False

    def keep_alive(self) -> bool:
        """Renew the lease with a fresh heartbeat; False if it is no longer ours."""
        try:
            return self.lease.renew(self._beat())
        except redis.RedisError as exc:
            # Redis down: keep counting; the lease is re-checked when it is back.
            self.log.warning("cannot renew the lease: %s", exc)
            return True

    def _waiting_for_detector(self) -> bool:
        """The detector is down mid-segment: say so now, and keep the lease while waiting."""
        self._transition(Observation(detector_ok=False))
        return self.keep_alive()

    def _transition(self, observed: Observation) -> None:
        state = next_state(observed)
        if state != self.state:
            self.log.info("state %s -> %s", self.state.value, state.value)
            self.state = state
            self.keep_alive()

    def _beat(self) -> Heartbeat:
        return Heartbeat(camera_id=self.camera_id, node=socket.gethostname(), pid=os.getpid(),
                         state=self.state.value, last_segment_at=self.last_segment_at, updated_at=time.time(),
                         lag_s=self.lag_s)
