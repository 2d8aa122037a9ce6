"""Zones, anchors and boxes: pure, vectorised functions with the unit in their names.

Coordinates come in two units: ``_rel`` (0..1 of the frame, as zones and the
detector speak) and ``_px`` (pixels of the frame). Distances are only meaningful
in pixels, since a relative x and a relative y are different lengths on a
non-square frame, so the tracker and the zone margins work in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

ANCHOR_BOTTOM_CENTER = "bottom_center"
ANCHOR_CENTER = "center"
ANCHORS = (ANCHOR_BOTTOM_CENTER, ANCHOR_CENTER)

ZonesRel = Sequence[Sequence[Sequence[float]]]


def boxes_px(boxes_rel: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """(N, 4) relative xyxy boxes scaled to pixels of a ``size_wh`` frame."""
    width, height = size_wh
    return np.asarray(boxes_rel, dtype=np.float64).reshape(-1, 4) * np.array([width, height, width, height])


def anchor_points(boxes: np.ndarray, anchor: str) -> np.ndarray:
    """(N, 2) anchor points of (N, 4) xyxy boxes, in the boxes' own unit.

    ``bottom_center`` is where a person stands on the ground, the usual choice for floor zones;
    ``center`` suits zones drawn around whole objects (a doorway seen from the front).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x_mid = (boxes[:, 0] + boxes[:, 2]) / 2
    if anchor == ANCHOR_BOTTOM_CENTER:
        return np.column_stack([x_mid, boxes[:, 3]])
    if anchor == ANCHOR_CENTER:
        return np.column_stack([x_mid, (boxes[:, 1] + boxes[:, 3]) / 2])
    raise ValueError(f"anchor: expected one of {ANCHORS}, got {anchor!r}")


def box_scales_px(boxes: np.ndarray) -> np.ndarray:
    """(N,) size of each box for normalising distances: its larger side, in the boxes' unit."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]).clip(min=1e-6)


def top_square_px(box_px: Sequence[float], size_wh: tuple[int, int]) -> tuple[int, int, int, int]:
    """The top square of a box (its width by its width, shorter if the box is wider than tall).

    That is where a standing person's head is; cropping it keeps face detection cheap.
    Rounded to whole pixels and clipped to the frame.
    """
    x_min, y_min, x_max, y_max = (float(v) for v in box_px)
    side = min(x_max - x_min, y_max - y_min)
    width, height = size_wh
    x1, y1 = int(np.clip(round(x_min), 0, width)), int(np.clip(round(y_min), 0, height))
    x2, y2 = int(np.clip(round(x_max), 0, width)), int(np.clip(round(y_min + side), 0, height))
    return x1, y1, x2, y2


def validate_zones(zones: object) -> list[list[list[float]]]:
    """Zones as lists of ``[x, y]`` floats, or ValueError that says which zone and why."""
    if zones is None:
        return []
    if not isinstance(zones, list | tuple):
        raise ValueError(f"zones: expected a list of polygons, got {type(zones).__name__}")
    result = []
    for index, polygon in enumerate(zones):
        try:
            points = np.asarray(polygon, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"zones[{index}]: expected a list of [x, y] numbers ({exc})") from exc
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
            raise ValueError(f"zones[{index}]: expected at least 3 points [x, y], got shape {points.shape}")
        if not np.isfinite(points).all() or points.min() < 0 or points.max() > 1:
            raise ValueError(f"zones[{index}]: coordinates must be relative, between 0 and 1")
        result.append(points.tolist())
    return result


class ZoneSet:
    """The zones of a processor scaled to one frame size, ready for point tests.

    An empty zone list means the whole frame. Points on a zone's edge count as inside,
    so that a zone drawn along the frame edge holds a box that touches the edge.
    """

    def __init__(self, zones_rel: ZonesRel, size_wh: tuple[int, int]) -> None:
        width, height = size_wh
        self.size_wh = size_wh
        self.whole_frame = len(zones_rel) == 0
        polygons = [
            shapely.make_valid(shapely.Polygon(np.asarray(zone, dtype=np.float64) * [width, height]))
            for zone in zones_rel
        ]
        self._union = shapely.union_all(polygons) if polygons else None
        if self._union is not None:
            shapely.prepare(self._union)

    def contains_px(self, points_px: np.ndarray) -> np.ndarray:
        """(N,) bool: is each (N, 2) pixel point inside any zone (edges included)?"""
        points = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
        if self._union is None:
            return np.ones(len(points), dtype=bool)
        return np.asarray(shapely.intersects_xy(self._union, points[:, 0], points[:, 1]), dtype=bool)

    def distance_px(self, points_px: np.ndarray) -> np.ndarray:
        """(N,) pixels from each point to the nearest zone; 0 inside one."""
        points = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
        if self._union is None:
            return np.zeros(len(points))
        return np.asarray(shapely.distance(self._union, shapely.points(points)), dtype=np.float64).reshape(-1)
