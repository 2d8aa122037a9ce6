"""What a watcher does with one segment: processors, detection, events, previews.

Kept apart from the loop (``server/watcher/watcher.py``) so that the loop is only
the lease, the source and the state machine, and this is only the data path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from detector_client import DetectorProtocolError, DetectorUnavailable, ObjectDetectorClient
from server.models import Camera, Processor
from server.processors import (
    Detections,
    Event,
    Frame,
    ProcessorContext,
    ProcessorRuntime,
    ProcessorSettings,
    create_runtime,
    store_events,
)
from server.watcher.backoff import Backoff
from server.watcher.state import Trouble

log = logging.getLogger(__name__)

# How long a segment waits for a detector that is down. Once an outage is older than
# this, each new segment tries the detector once and is dropped if it is still down:
# live counts matter more than completeness, and a watcher that waited on every
# segment would fall minutes behind its stream.
MAX_DETECTOR_WAIT_S = 120.0


@dataclass(frozen=True)
class CameraSettings:
    id: int
    stream_url: str
    watch_fps: float
    grid: tuple[int, int]
    enabled: bool
    tz: float


class CameraGone(Exception):
    """The camera was deleted or disabled: the watcher stops."""


class DetectorGaveUp(Exception):
    """The rest of the segment is dropped: the detector is down for too long, or the watcher stops."""


class Pipeline:
    """Per camera: the processor runtimes (kept across segments), pending events, previews."""

    def __init__(
        self,
        camera_id: int,
        sessions: sessionmaker[Session],
        detector: ObjectDetectorClient,
        context_factory: Callable[[CameraSettings], ProcessorContext],
        previews: Any,
        waiting: Callable[[], bool],
        stop: threading.Event,
        logger: logging.LoggerAdapter,
        max_wait_s: float = 10.0,
        progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.camera_id = camera_id
        self.sessions = sessions
        self.detector = detector
        # Runtimes get the camera's context (URL, time zone, face detector, publisher) when created.
        self.context_factory = context_factory
        self.context: ProcessorContext | None = None
        self.previews = previews
        # Called while waiting for the detector: reports the state; False when the watcher
        # must stop waiting (its lease is lost). The lease itself is kept by another thread.
        self.waiting = waiting
        self.max_wait_s = max_wait_s
        # Called after each batch: the watcher's proof of life for its lease keeper.
        self.progress = progress
        # When the current detector outage began (monotonic), None while it answers.
        self.detector_down_since: float | None = None
        self.stop = stop
        self.log = logger
        self.camera: CameraSettings | None = None
        self.runtimes: dict[int, ProcessorRuntime] = {}
        self.pending: dict[int, list[Event]] = defaultdict(list)
        # Counts for the metrics, taken and reset by the watcher after each segment.
        self.stats: dict[str, int] = defaultdict(int)
        self.detector_seconds: list[float] = []
        self.database = Trouble("database", logger)
        self.detector_trouble = Trouble("detector", logger)

    # --- configuration -------------------------------------------------------
    def reload(self) -> CameraSettings:
        """Camera and processor settings from the database, picked up between segments.

        With the database down the last known settings stay in force.
        """
        try:
            with self.sessions() as session:
                camera = session.get(Camera, self.camera_id)
                if camera is None or not camera.enabled:
                    raise CameraGone(f"camera {self.camera_id} was {'deleted' if camera is None else 'disabled'}")
                rows = session.scalars(
                    select(Processor).where(Processor.camera_id == camera.id, Processor.enabled.is_(True))
                ).all()
                self._set_camera(CameraSettings(camera.id, camera.stream_url, camera.watch_fps,
                                                (camera.watch_rows, camera.watch_cols), camera.enabled, camera.tz))
                self._sync_runtimes(self._snapshots(rows))
            self.database.recovered()
        except SQLAlchemyError as exc:
            self.database.failed(exc)
            if self.camera is None:
                raise
        return self.camera

    def _set_camera(self, camera: CameraSettings) -> None:
        """A new URL or time zone changes what runtimes publish: they are rebuilt with the new context."""
        if self.camera is None or (camera.stream_url, camera.tz) != (self.camera.stream_url, self.camera.tz):
            self.context = self.context_factory(camera)
            self.runtimes.clear()
        self.camera = camera

    def _snapshots(self, rows: list[Processor]) -> list[ProcessorSettings]:
        """Settings of each processor; one with an invalid configuration is skipped, not fatal."""
        snapshots = []
        for row in rows:
            try:
                snapshots.append(ProcessorSettings.from_model(row))
            except ValueError as exc:
                self.log.error("processor %d skipped, invalid configuration: %s", row.id, exc)
        return snapshots

    def _sync_runtimes(self, settings: list[ProcessorSettings]) -> None:
        wanted = {s.id: s for s in settings}
        for gone in set(self.runtimes) - set(wanted):
            self.log.info("processor %d removed or disabled", gone)
            del self.runtimes[gone]
        for processor_id, snapshot in wanted.items():
            runtime = self.runtimes.get(processor_id)
            if runtime is not None and runtime.type_key == snapshot.type:
                runtime.update_settings(snapshot)
            else:
                self.runtimes[processor_id] = create_runtime(snapshot, self.context)
        if self.previews is not None:
            self.previews.sync({s.id for s in settings if s.output_hls})

    # --- the data path -------------------------------------------------------
    def process(self, samples: list[tuple[np.ndarray, datetime]]) -> int:
        """Detect, run every processor, keep their events pending until stored; returns frames processed."""
        assert self.camera is not None
        rows, cols = self.camera.grid
        size = rows * cols
        done = 0
        for start in range(0, len(samples), size):
            batch = samples[start : start + size]
            try:
                detections = self._detect([image for image, _ in batch])
            except DetectorGaveUp as exc:
                self.stats["dropped_frames"] += len(samples) - start
                self.log.warning("%d sampled frames dropped: %s", len(samples) - start, exc)
                break
            if detections is None:
                continue
            frames = [Frame(image, ts, Detections.from_objects(found))
                      for (image, ts), found in zip(batch, detections, strict=True)]
            for processor_id, runtime in self.runtimes.items():
                events = self._run(runtime, frames)
                self.pending[processor_id].extend(events)
                self.stats["events"] += len(events)
            done += len(frames)
            self.progress()
        self.stats["frames"] += done
        return done

    def _run(self, runtime: ProcessorRuntime, frames: list[Frame]) -> list[Event]:
        """The runtime's events; with a preview on, frame by frame so that each frame gets its overlay."""
        if self.previews is None or not runtime.settings.output_hls:
            return runtime.process(frames)
        events: list[Event] = []
        for frame in sorted(frames, key=lambda f: f.ts):
            events.extend(runtime.process([frame]))
            self._preview(runtime, frame)
        return events

    def _detect(self, images: list[np.ndarray]) -> list[list[Any]] | None:
        """Detections per image, or None for a batch answered with garbage (skipped).

        A detector that is down is waited for, with backoff, until its outage is
        MAX_DETECTOR_WAIT_S old, measured on the clock (calls that hang until their
        timeout count too); then DetectorGaveUp drops the rest of the segment.
        """
        backoff = Backoff(initial_s=1.0, maximum_s=self.max_wait_s)
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                result = self.detector.detect(images, self.camera.grid)
            except DetectorProtocolError as exc:
                self.stats["detector_errors"] += 1
                self.log.error("detector answered garbage, batch of %d frames skipped: %s", len(images), exc)
                # It answers, so it is not down: the outage (if any) is over.
                self.detector_down_since = None
                self.detector_trouble.recovered()
                return None
            except DetectorUnavailable as exc:
                self.stats["detector_errors"] += 1
                self.detector_trouble.failed(exc)
                if self.detector_down_since is None:
                    self.detector_down_since = began
                down_for = time.monotonic() - self.detector_down_since
                if down_for >= MAX_DETECTOR_WAIT_S:
                    raise DetectorGaveUp(f"detector down for {down_for:.0f}s") from exc
                if not self.waiting():
                    raise DetectorGaveUp("the watcher lost its camera") from exc
                self.stop.wait(min(backoff.next_delay(), MAX_DETECTOR_WAIT_S - down_for))
                continue
            self.detector_seconds.append(time.monotonic() - began)
            self.detector_down_since = None
            self.detector_trouble.recovered()
            return result
        raise DetectorGaveUp("the watcher is stopping")

    def _preview(self, runtime: ProcessorRuntime, frame: Frame) -> None:
        if self.previews is None or not runtime.settings.output_hls or self.camera is None:
            return
        from server.processors.annotate import draw  # OpenCV drawing, only where previews are on

        try:
            annotated = draw(frame.image, runtime.settings, runtime.last_overlay)
            self.previews.write(runtime.settings.id, annotated, frame.ts, self.camera.watch_fps)
        except Exception as exc:  # a preview must never stop the counting
            self.log.warning("preview of processor %d failed: %s", runtime.settings.id, exc)

    def flush(self) -> bool:
        """Store pending events; on a database error they stay pending for the next try."""
        if not any(self.pending.values()):
            return True
        try:
            with self.sessions() as session:
                for processor_id in list(self.pending):
                    self._store(session, processor_id)
            self.database.recovered()
            return True
        except SQLAlchemyError as exc:
            self.database.failed(exc)
            return False

    def _store(self, session: Session, processor_id: int) -> None:
        events = self.pending[processor_id]
        try:
            store_events(session, processor_id, events)
        except IntegrityError:
            # The processor was deleted since these events were computed: nowhere to keep them.
            self.log.error("processor %d no longer exists; %d events dropped", processor_id, len(events))
        del self.pending[processor_id]

    def take_stats(self) -> tuple[dict[str, int], list[float]]:
        stats, seconds = dict(self.stats), self.detector_seconds
        self.stats.clear()
        self.detector_seconds = []
        return stats, seconds

    def close(self) -> None:
        if self.previews is not None:
            self.previews.close_all()


def segment_start(
    program_date_time: datetime | None,
    downloaded_at: datetime,
    duration_s: float,
    previous_end: datetime | None = None,
) -> datetime:
    """When the segment's first frame was shot: the playlist's PROGRAM-DATE-TIME, else estimated.

    Without a date-time, the segment is taken to have ended when it was downloaded,
    unless it follows straight on from the previous one (segments fetched in a
    burst): then it starts where that one ended, so frame times never overlap.
    """
    if program_date_time is not None:
        return program_date_time.astimezone(UTC)
    estimate = downloaded_at - timedelta(seconds=duration_s)
    if previous_end is not None and abs((estimate - previous_end).total_seconds()) < 3 * max(duration_s, 1.0):
        return previous_end
    return estimate
