"""Validation of detector answers: turn JSON into arrays, or raise a clear error.

Pure functions (no HTTP), so every malformed answer can be table-tested. They raise
``ValueError`` with what was expected and what came; the client wraps it into
:class:`~detector_client.errors.DetectorProtocolError`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detector_client.mosaic import DETECTION_COLUMNS

REL_TOLERANCE = 0.01
"""How far outside 0..1 a relative coordinate may be (rounding, a box touching the edge)."""

PX_TOLERANCE_FRACTION = 0.02
"""How far outside the crop a face box may be, as a fraction of the crop side (at least 2 px)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(row: Any, length: int, what: str) -> list[float]:
    """Check that ``row`` is a list of ``length`` finite numbers."""
    if not isinstance(row, list) or len(row) != length:
        raise ValueError(f"{what}: expected a list of {length} numbers, got {row!r:.80}")
    if not all(_is_number(v) for v in row):
        raise ValueError(f"{what}: expected numbers, got {row!r:.80}")
    if not all(math.isfinite(v) for v in row):
        raise ValueError(f"{what}: non-finite number in {row!r:.80}")
    return [float(v) for v in row]


def _check_box(box: list[float], low: float, high_x: float, high_y: float, tol: float, what: str) -> None:
    x_min, y_min, x_max, y_max = box
    if min(x_min, y_min) < low - tol or x_max > high_x + tol or y_max > high_y + tol:
        raise ValueError(f"{what}: coordinates {box} outside the image beyond the tolerance {tol:g}")
    if x_max < x_min or y_max < y_min:
        raise ValueError(f"{what}: box {box} has x_max < x_min or y_max < y_min")


def parse_objects(payload: Any) -> np.ndarray:
    """Validate an object-protocol answer; return an ``N x 6`` float array clipped to 0..1.

    Raises:
        ValueError: not a list of ``[x_min, y_min, x_max, y_max, score, class_id]``
            rows of finite numbers with coordinates in 0..1 (within ``REL_TOLERANCE``),
            score in 0..1 and a non-negative integer class id.
    """
    if not isinstance(payload, list):
        raise ValueError(f"expected a JSON list of detections, got {type(payload).__name__}")
    rows = []
    for i, raw in enumerate(payload):
        row = _numbers(raw, DETECTION_COLUMNS, f"detection {i}")
        _check_box(row[:4], 0.0, 1.0, 1.0, REL_TOLERANCE, f"detection {i}")
        if not 0.0 <= row[4] <= 1.0:
            raise ValueError(f"detection {i}: score {row[4]} outside 0..1")
        if row[5] < 0 or row[5] != int(row[5]):
            raise ValueError(f"detection {i}: class id {row[5]} is not a non-negative integer")
        rows.append(row)
    dets = np.array(rows, dtype=np.float64).reshape(-1, DETECTION_COLUMNS)
    dets[:, :4] = np.clip(dets[:, :4], 0.0, 1.0)
    return dets


def parse_faces(payload: Any, crop_wh: tuple[int, int]) -> np.ndarray:
    """Validate a face-protocol answer; return an ``N x 5`` array (x1, y1, x2, y2, conf), boxes clipped.

    Raises:
        ValueError: not ``{"boxes": [[x1, y1, x2, y2], ...], "conf": [...]}`` of equal
            lengths, finite numbers, boxes inside the crop (within a small tolerance).
    """
    if not isinstance(payload, dict) or "boxes" not in payload or "conf" not in payload:
        raise ValueError(f"expected an object with 'boxes' and 'conf', got {payload!r:.80}")
    boxes, confs = payload["boxes"], payload["conf"]
    if not isinstance(boxes, list) or not isinstance(confs, list) or len(boxes) != len(confs):
        raise ValueError("'boxes' and 'conf' must be lists of the same length")
    width_px, height_px = crop_wh
    tol = max(2.0, PX_TOLERANCE_FRACTION * max(width_px, height_px))
    rows = []
    for i, (raw_box, raw_conf) in enumerate(zip(boxes, confs, strict=True)):
        box = _numbers(raw_box, 4, f"face {i}")
        conf = _numbers([raw_conf], 1, f"face {i} conf")[0]
        _check_box(box, 0.0, width_px, height_px, tol, f"face {i}")
        rows.append([*box, conf])
    faces = np.array(rows, dtype=np.float64).reshape(-1, 5)
    faces[:, [0, 2]] = np.clip(faces[:, [0, 2]], 0, width_px)
    faces[:, [1, 3]] = np.clip(faces[:, [1, 3]], 0, height_px)
    return faces
