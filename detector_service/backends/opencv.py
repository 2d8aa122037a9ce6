"""Backend ``opencv``, the default: HOG people detector and Haar faces, nothing to download.

Both models ship inside opencv-python. HOG and the Haar cascades are removed in
OpenCV 5, which is why hypersight pins opencv-python-headless 4.13. HOG finds people
(COCO class 0) only, and misses more of them than any YOLO model (about 63 ms a
768x576 frame at scale 1 on 2 CPU threads, 2-3x that at the default upscale of 1.5):
use the ``onnx`` backend whenever a model file is at hand.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from detector_service.backends.base import EMPTY_DETECTIONS, DetectorBackend, boxes_px_to_rel, margin_to_score
from detector_service.backends.haar import HaarFaceDetector
from detector_service.backends.yolo import nms_xyxy
from detector_service.settings import ServiceSettings

PERSON_CLASS_ID = 0
HOG_WIN_STRIDE_PX = (8, 8)
HOG_PADDING_PX = (8, 8)
HOG_SCALE_STEP = 1.05
HOG_WINDOW_WH_PX = (64, 128)
# The 64x128 detection window holds a person of about 40x96 px in its middle: shrink
# the box to the body so that a box's bottom centre is at the feet, as processors expect.
SHRINK_X_FRACTION = 0.18
SHRINK_Y_FRACTION = 0.08
NESTED_OVERLAP = 0.6
"""Intersection over the smaller box above which HOG's weaker window is dropped."""


def pad_to_window(image: np.ndarray, window_wh: tuple[int, int] = HOG_WINDOW_WH_PX) -> np.ndarray:
    """Pad right and bottom with black up to the HOG window: OpenCV 4.13 crashes the
    process (segfault) on an image smaller than its window, and a request must never do that."""
    extra_w, extra_h = max(0, window_wh[0] - image.shape[1]), max(0, window_wh[1] - image.shape[0])
    if not (extra_w or extra_h):
        return image
    return cv2.copyMakeBorder(image, 0, extra_h, 0, extra_w, cv2.BORDER_CONSTANT, value=(0, 0, 0))


def shrink_window_to_body(rects_xywh: np.ndarray) -> np.ndarray:
    """HOG windows (x, y, w, h) -> body boxes (x1, y1, x2, y2)."""
    x, y, w, h = (rects_xywh[:, i] for i in range(4))
    dx, dy = w * SHRINK_X_FRACTION, h * SHRINK_Y_FRACTION
    return np.column_stack([x + dx, y + dy, x + w - dx, y + h - dy])


class OpenCVBackend(DetectorBackend):
    """People with HOG + linear SVM (Dalal-Triggs), faces with the Haar cascade."""

    type_key = "opencv"

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self._hog_lock = threading.Lock()  # HOG already uses every core inside one call
        self._faces = HaarFaceDetector()
        if settings.threads:
            cv2.setNumThreads(settings.threads)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> OpenCVBackend:
        return cls(settings)

    def detect(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        classes = self.settings.classes
        if classes is not None and PERSON_CLASS_ID not in classes:
            return [EMPTY_DETECTIONS.copy() for _ in tiles]
        return [self._detect_people(tile) for tile in tiles]

    def _detect_people(self, tile: np.ndarray) -> np.ndarray:
        upscale = self.settings.hog_upscale
        size_wh = (max(1, round(tile.shape[1] * upscale)), max(1, round(tile.shape[0] * upscale)))
        image = tile if upscale == 1.0 else cv2.resize(tile, size_wh)
        image = pad_to_window(image)
        with self._hog_lock:
            rects, weights = self._hog.detectMultiScale(
                image, winStride=HOG_WIN_STRIDE_PX, padding=HOG_PADDING_PX, scale=HOG_SCALE_STEP
            )
        if len(rects) == 0:
            return EMPTY_DETECTIONS.copy()
        boxes_px = shrink_window_to_body(np.asarray(rects, dtype=np.float64).reshape(-1, 4) / upscale)
        scores = margin_to_score(np.asarray(weights, dtype=np.float64).ravel())
        keep = scores >= self.settings.score_threshold
        boxes_px, scores = boxes_px[keep], scores[keep]
        # HOG's grouping leaves nested windows (a torso inside a person): one box per person.
        keep = nms_xyxy(boxes_px, scores, np.zeros(len(scores)), NESTED_OVERLAP, metric="ios")
        rel = boxes_px_to_rel(boxes_px[keep], tile.shape[1], tile.shape[0])
        return np.column_stack([rel, scores[keep], np.full(len(keep), PERSON_CLASS_ID)])

    def detect_faces(self, image: np.ndarray) -> np.ndarray:
        return self._faces.detect(image)

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.type_key,
            "model": f"hog-default-people (upscale {self.settings.hog_upscale:g})",
            "device": "cpu",
            "faces": HaarFaceDetector.describe(),
            "classes": [PERSON_CLASS_ID],
            "opencv": cv2.__version__,
        }
