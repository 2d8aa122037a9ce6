"""Drawing a processor's view of a frame: zones, boxes, track tails and its count.

The preview writer calls :func:`draw` with the frame it just passed to
``runtime.process`` and that runtime's ``last_overlay``; the replay CLI uses it to
save frames for a person to check by eye.
"""

from __future__ import annotations

import cv2
import numpy as np

from server.processors.base import Overlay, ProcessorSettings

ZONE_BGR = (255, 160, 0)
INSIDE_BGR = (0, 220, 0)
OUTSIDE_BGR = (0, 160, 255)
FACE_BGR = (255, 0, 255)
TEXT_BGR = (255, 255, 255)
ZONE_FILL_ALPHA = 0.2


def _px(points_rel: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Relative points or boxes to integer pixels (any trailing multiple of 2 coordinates)."""
    scale = np.tile(np.asarray(size_wh, dtype=np.float64), points_rel.shape[-1] // 2)
    return np.round(points_rel * scale).astype(np.int32)


def draw_zones(image: np.ndarray, zones: tuple) -> None:
    """Zones filled see-through and outlined, so what is under them stays visible."""
    if not zones:
        return
    size_wh = (image.shape[1], image.shape[0])
    polygons = [_px(np.asarray(zone, dtype=np.float64), size_wh) for zone in zones]
    layer = image.copy()
    cv2.fillPoly(layer, polygons, ZONE_BGR)
    cv2.addWeighted(layer, ZONE_FILL_ALPHA, image, 1 - ZONE_FILL_ALPHA, 0, dst=image)
    cv2.polylines(image, polygons, isClosed=True, color=ZONE_BGR, thickness=2)


def draw_boxes(image: np.ndarray, overlay: Overlay) -> None:
    """Boxes green inside a zone, orange outside, with their track id where there is one."""
    size_wh = (image.shape[1], image.shape[0])
    for index, box in enumerate(_px(overlay.boxes_rel, size_wh)):
        inside = bool(overlay.inside[index]) if index < len(overlay.inside) else False
        color = INSIDE_BGR if inside else OUTSIDE_BGR
        cv2.rectangle(image, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), color, 2)
        if overlay.track_ids is not None and index < len(overlay.track_ids):
            origin = (int(box[0]), max(12, int(box[1]) - 4))
            cv2.putText(image, str(overlay.track_ids[index]), origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1,
                        cv2.LINE_AA)
    for box in _px(overlay.faces_rel, size_wh):
        cv2.rectangle(image, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), FACE_BGR, 2)


def draw_tails(image: np.ndarray, overlay: Overlay) -> None:
    """Each track's recent anchor points as a line: where it came from."""
    size_wh = (image.shape[1], image.shape[0])
    for tail in overlay.tails_rel.values():
        if len(tail) > 1:
            points = _px(np.asarray(tail, dtype=np.float64), size_wh)
            cv2.polylines(image, [points], isClosed=False, color=INSIDE_BGR, thickness=1, lineType=cv2.LINE_AA)


def draw_label(image: np.ndarray, text: str) -> None:
    """The count in the top left corner, on a dark background so it reads on any scene."""
    if not text:
        return
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)
    cv2.rectangle(image, (0, 0), (width + 12, height + baseline + 12), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (6, height + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.7, TEXT_BGR, 2, cv2.LINE_AA)


def draw(frame_bgr: np.ndarray, settings: ProcessorSettings, overlay: Overlay) -> np.ndarray:
    """A copy of the frame with the processor's zones, boxes, tails and count drawn on it."""
    image = np.ascontiguousarray(frame_bgr).copy()
    draw_zones(image, settings.zones)
    draw_tails(image, overlay)
    draw_boxes(image, overlay)
    draw_label(image, overlay.label)
    return image
