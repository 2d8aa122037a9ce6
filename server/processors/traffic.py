"""TrafficCounter (``traffic``): how many tracked objects entered a zone."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from server.processors.base import Event, Overlay, ProcessorContext, ProcessorRuntime, ProcessorSettings, register
from server.processors.frames import Frame
from server.processors.geometry import ZoneSet, anchor_points, box_scales_px, boxes_px
from server.processors.tracking import Tracker

log = logging.getLogger(__name__)

# An anchor must be this many object sizes away from every zone to count as "seen outside":
# a box that jitters on a zone's edge would otherwise enter it again and again.
OUTSIDE_MARGIN = 0.25
# With no zones (the whole frame), a track counts once it has been seen this often,
# so a one-frame false detection is not a visitor.
MIN_HITS_WHOLE_FRAME = 2
# Per-track entry state is forgotten this long after the track was last seen.
STATE_TTL = timedelta(seconds=60)
TAIL_LENGTH = 20


class TrackerLike(Protocol):
    """What TrafficCounter needs of a tracker: one id per box, stable across frames."""

    def update(self, boxes_px: np.ndarray, ts: datetime) -> list[int]: ...


@dataclass
class _TrackState:
    seen_outside: bool = False
    hits: int = 0
    last_ts: datetime | None = None
    tail_rel: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=TAIL_LENGTH))


@register
class TrafficCounter(ProcessorRuntime):
    """Counts entries into the zones by tracked objects.

    An entry is a track seen inside a zone after it was seen (clearly) outside every
    zone; a frame's event carries the number of entries in it. A track that starts
    inside a zone is not counted until it has left and come back. With no zones the
    whole frame is the zone: each track counts once, when it is confirmed.
    """

    type_key = "traffic"

    def __init__(
        self,
        settings: ProcessorSettings,
        context: ProcessorContext | None = None,
        tracker: TrackerLike | None = None,
    ) -> None:
        super().__init__(settings, context)
        self.tracker: TrackerLike = tracker or Tracker()
        self.total = 0
        self._states: dict[int, _TrackState] = {}

    def _process(self, frame: Frame) -> list[Event]:
        settings = self.settings
        detections = frame.detections.filtered(settings.threshold, settings.classes)
        boxes = boxes_px(detections.boxes_rel, frame.size_wh)
        ids = self.tracker.update(boxes, frame.ts)
        anchors = anchor_points(boxes, settings.anchor)
        zones = self.zones_for(frame)
        inside = zones.contains_px(anchors)
        outside = self._clearly_outside(zones, anchors, boxes)
        entries = 0
        for track_id, is_inside, is_outside, anchor in zip(ids, inside, outside, anchors, strict=True):
            state = self._states.setdefault(track_id, _TrackState())
            state.hits += 1
            state.last_ts = frame.ts
            state.tail_rel.append((anchor[0] / frame.size_wh[0], anchor[1] / frame.size_wh[1]))
            entries += self._entered(state, bool(is_inside), bool(is_outside), zones.whole_frame)
        self.total += entries
        self._forget_old(frame.ts)
        self.last_overlay = Overlay(
            boxes_rel=detections.boxes_rel,
            inside=inside,
            track_ids=list(ids),
            tails_rel={tid: list(self._states[tid].tail_rel) for tid in ids},
            count=self.total,
            label=f"entered: {self.total}",
        )
        return [(frame.ts, entries)] if entries else []

    @staticmethod
    def _clearly_outside(zones: ZoneSet, anchors: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return zones.distance_px(anchors) >= OUTSIDE_MARGIN * box_scales_px(boxes)

    @staticmethod
    def _entered(state: _TrackState, inside: bool, outside: bool, whole_frame: bool) -> int:
        """1 if this observation is an entry; updates the track's state."""
        if whole_frame:
            return int(state.hits == MIN_HITS_WHOLE_FRAME)
        if outside:
            state.seen_outside = True
        elif inside and state.seen_outside:
            state.seen_outside = False
            return 1
        return 0

    def _forget_old(self, now: datetime) -> None:
        stale = [tid for tid, s in self._states.items() if s.last_ts and now - s.last_ts > STATE_TTL]
        for track_id in stale:
            del self._states[track_id]
