"""Frames and detections as the watcher hands them to the processors.

Detections are held as one batch of numpy arrays per frame (boxes, scores,
class ids), not as a list of objects, so that zone tests, anchors and tracker
distances are a few vectorised lines. The detector client returns a list of
``Detection`` objects; :meth:`Detections.from_objects` adapts them at the edge,
through a structural protocol, so this module does not import the client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np


class DetectionLike(Protocol):
    """What ``detector_client.Detection`` offers: a relative box, a score and a COCO class id."""

    box: tuple[float, float, float, float]
    score: float
    class_id: int


def to_naive_utc(ts: datetime) -> datetime:
    """The naive UTC datetime the database stores; a naive input is taken as UTC already."""
    if ts.tzinfo is None:
        return ts
    return ts.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True, eq=False)
class Detections:
    """Objects found in one frame.

    Attributes:
        boxes_rel: (N, 4) float array of ``x_min, y_min, x_max, y_max`` in 0..1 of the frame.
        scores: (N,) float array of detector scores.
        class_ids: (N,) int array of COCO class ids (0 is person).

    Examples:
        >>> d = Detections.from_rows([[0.1, 0.2, 0.3, 0.9, 0.8, 0]])
        >>> len(d), float(d.scores[0])
        (1, 0.8)
    """

    boxes_rel: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    class_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes_rel, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        classes = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        if not len(boxes) == len(scores) == len(classes):
            raise ValueError(
                f"Detections: expected as many boxes, scores and class ids, got "
                f"{len(boxes)}, {len(scores)} and {len(classes)}"
            )
        object.__setattr__(self, "boxes_rel", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", classes)

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def from_rows(cls, rows: Iterable[Iterable[float]]) -> Detections:
        """From the detector protocol's rows ``[x_min, y_min, x_max, y_max, score, class_id]``."""
        array = np.asarray(list(rows), dtype=np.float64).reshape(-1, 6)
        return cls(array[:, :4], array[:, 4], array[:, 5].astype(np.int64))

    @classmethod
    def from_objects(cls, items: Iterable[DetectionLike]) -> Detections:
        """From ``detector_client.Detection`` objects (or anything with box, score, class_id)."""
        return cls.from_rows([*item.box, item.score, item.class_id] for item in items)

    def select(self, mask: np.ndarray) -> Detections:
        """The detections where ``mask`` (bool or index array) selects them."""
        return Detections(self.boxes_rel[mask], self.scores[mask], self.class_ids[mask])

    def filtered(self, min_score: float, classes: Iterable[int]) -> Detections:
        """Those at or above ``min_score`` whose class is one of ``classes`` (empty: any class)."""
        keep = self.scores >= min_score
        wanted = list(classes)
        if wanted:
            keep &= np.isin(self.class_ids, wanted)
        return self.select(keep)


@dataclass(frozen=True, eq=False)
class Frame:
    """One sampled frame: the BGR image, when it was shot (UTC) and what the detector found in it."""

    image: np.ndarray
    ts: datetime
    detections: Detections = field(default_factory=Detections)

    def __post_init__(self) -> None:
        if self.image.ndim < 2:
            raise ValueError(f"Frame: expected an HxW[xC] image, got shape {self.image.shape}")
        object.__setattr__(self, "ts", to_naive_utc(self.ts))

    @property
    def size_wh(self) -> tuple[int, int]:
        """Width and height in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])
