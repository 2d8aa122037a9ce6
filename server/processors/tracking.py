"""Multi-object tracking for sampled frames (1 to 5 a second).

At these rates a walking person moves more than their own width between two
frames, so boxes of one person rarely overlap and IoU matching (SORT, ByteTrack)
starts a new track every frame. This tracker matches on the distance between a
track's predicted centre (constant velocity) and a detection's centre, measured
in object sizes so that it means the same near and far from the camera, plus a
penalty for a change of size. Assignment is a global minimum (Hungarian), so two
people whose paths cross keep their identities as long as their velocities
differ. A track survives missed detections for ``max_misses`` frames and at
least ``max_age_s`` seconds, and lives across segments: it only needs time stamps.

docs/processors.md records how it compares with norfair and Roboflow's trackers.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from server.processors.assignment import linear_assignment
from server.processors.geometry import box_scales_px

log = logging.getLogger(__name__)

_FORBIDDEN = 1e6


@dataclass(frozen=True)
class TrackerConfig:
    """Tuning, in object sizes (the larger side of a box) and seconds.

    Defaults suit people at 1 to 5 frames a second: a brisk walker covers about one
    body height a second, so a track with no velocity yet may move ``max_speed`` sizes
    a second, and one with a velocity may stray ``max_accel`` sizes a second from its
    prediction.
    """

    gate: float = 0.5
    max_speed: float = 1.6
    max_accel: float = 0.8
    turn_penalty: float = 0.5
    static_horizon_s: float = 1.0
    size_weight: float = 1.0
    max_size_ratio: float = 1.8
    velocity_smoothing: float = 0.5
    max_misses: int = 2
    max_age_s: float = 2.0
    tail_length: int = 20


@dataclass
class Track:
    """One tracked object; positions in pixels, velocity in pixels a second."""

    id: int
    box_px: np.ndarray
    ts: datetime
    velocity_px_s: np.ndarray | None = None
    hits: int = 1
    misses: int = 0
    tail_px: deque[tuple[float, float]] = field(default_factory=deque)

    @property
    def center_px(self) -> np.ndarray:
        return (self.box_px[:2] + self.box_px[2:]) / 2

    def predicted_center_px(self, ts: datetime) -> np.ndarray:
        """Where the track should be at ``ts``, moving on at its velocity."""
        if self.velocity_px_s is None:
            return self.center_px
        return self.center_px + self.velocity_px_s * (ts - self.ts).total_seconds()


class Tracker:
    """Assigns persistent ids to per-frame detections.

    Examples:
        >>> from datetime import datetime, timedelta
        >>> tracker, t0 = Tracker(), datetime(2024, 1, 1)
        >>> tracker.update(np.array([[0, 0, 40, 100.0]]), t0)
        [1]
        >>> tracker.update(np.array([[60, 0, 100, 100.0]]), t0 + timedelta(seconds=1))
        [1]
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)

    def update(self, boxes_px: np.ndarray, ts: datetime) -> list[int]:
        """Match this frame's (N, 4) pixel boxes to tracks; returns the track id of each box."""
        boxes = np.asarray(boxes_px, dtype=np.float64).reshape(-1, 4)
        pairs = self._match(boxes, ts)
        ids = [0] * len(boxes)
        matched_tracks = set()
        for track_index, box_index in pairs:
            track = self.tracks[track_index]
            self._observe(track, boxes[box_index], ts)
            ids[box_index] = track.id
            matched_tracks.add(track_index)
        for index, track in enumerate(self.tracks):
            if index not in matched_tracks:
                track.misses += 1
        self._drop_stale(ts)
        for box_index in range(len(boxes)):
            if not ids[box_index]:
                ids[box_index] = self._start(boxes[box_index], ts).id
        return ids

    def _match(self, boxes: np.ndarray, ts: datetime) -> list[tuple[int, int]]:
        """Track-detection pairs within the gates, at minimum total cost."""
        if not self.tracks or not len(boxes):
            return []
        cost = self.cost_matrix(boxes, ts)
        return [(t, d) for t, d in linear_assignment(cost) if cost[t, d] < _FORBIDDEN]

    def cost_matrix(self, boxes: np.ndarray, ts: datetime) -> np.ndarray:
        """(tracks x boxes) cost in object sizes; ``_FORBIDDEN`` outside the gates.

        Two hypotheses per track: it moved on at its velocity (tight gate), or it stopped
        or turned (measured from where it was last seen, with the wide gate of a track
        without velocity and a ``turn_penalty`` so the prediction wins when both fit).
        """
        cfg = self.config
        track_boxes = np.stack([track.box_px for track in self.tracks])
        predicted = np.stack([track.predicted_center_px(ts) for track in self.tracks])
        last = (track_boxes[:, :2] + track_boxes[:, 2:]) / 2
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        track_scale = box_scales_px(track_boxes)[:, None]
        box_scale = box_scales_px(boxes)[None, :]
        mean_scale = (track_scale + box_scale) / 2
        moved = np.linalg.norm(predicted[:, None, :] - centers[None, :, :], axis=2) / mean_scale
        stayed = np.linalg.norm(last[:, None, :] - centers[None, :, :], axis=2) / mean_scale
        elapsed = np.array([(ts - track.ts).total_seconds() for track in self.tracks]).clip(min=0)[:, None]
        has_velocity = np.array([track.velocity_px_s is not None for track in self.tracks])[:, None]
        moved_gate = cfg.gate + np.where(has_velocity, cfg.max_accel, cfg.max_speed) * elapsed
        stayed_gate = cfg.gate + cfg.max_speed * np.minimum(elapsed, cfg.static_horizon_s)
        cost = np.minimum(
            np.where(moved <= moved_gate, moved, _FORBIDDEN),
            np.where(stayed <= stayed_gate, stayed + cfg.turn_penalty * has_velocity, _FORBIDDEN),
        )
        size_change = np.abs(np.log(box_scale / track_scale))
        cost = np.where(cost < _FORBIDDEN, cost + cfg.size_weight * size_change, _FORBIDDEN)
        cost[np.broadcast_to(size_change > np.log(cfg.max_size_ratio), cost.shape)] = _FORBIDDEN
        return cost

    def _observe(self, track: Track, box: np.ndarray, ts: datetime) -> None:
        """Move a track to its new detection, smoothing the velocity against jitter."""
        elapsed = (ts - track.ts).total_seconds()
        if elapsed > 0:
            measured = ((box[:2] + box[2:]) / 2 - track.center_px) / elapsed
            if track.velocity_px_s is None:
                track.velocity_px_s = measured
            else:
                alpha = self.config.velocity_smoothing
                track.velocity_px_s = alpha * measured + (1 - alpha) * track.velocity_px_s
        track.box_px, track.ts = box.copy(), ts
        track.hits += 1
        track.misses = 0
        self._add_to_tail(track)

    def _start(self, box: np.ndarray, ts: datetime) -> Track:
        track = Track(id=next(self._ids), box_px=box.copy(), ts=ts)
        self._add_to_tail(track)
        self.tracks.append(track)
        return track

    def _add_to_tail(self, track: Track) -> None:
        track.tail_px.append((float(track.center_px[0]), float(track.box_px[3])))
        while len(track.tail_px) > self.config.tail_length:
            track.tail_px.popleft()

    def _drop_stale(self, ts: datetime) -> None:
        """Forget tracks missed for more than ``max_misses`` frames and ``max_age_s`` seconds."""
        cfg = self.config
        self.tracks = [
            track
            for track in self.tracks
            if track.misses <= cfg.max_misses or (ts - track.ts).total_seconds() <= cfg.max_age_s
        ]
