"""Haar frontal-face detection (a helper shared by backends, not a backend itself).

The cascade file ships inside opencv-python (``cv2.data.haarcascades``), so faces need
no download. Cascades are gone from OpenCV 5: this needs opencv-python(-headless) 4.x,
which requirements pin (4.13).
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from detector_service.backends.base import EMPTY_FACES, margin_to_score

CASCADE_FILE = "haarcascade_frontalface_default.xml"
MIN_FACE_PX = 24
"""The cascade's own window: smaller faces cannot be found without upscaling the crop."""


class HaarFaceDetector:
    """Frontal faces with OpenCV's Haar cascade; confidence from the last stage's margin.

    One cascade behind a lock: ``CascadeClassifier`` is not documented as thread-safe
    and faces are rare requests (one per person in a zone), so a lock costs little.
    """

    def __init__(self, min_neighbors: int = 5, scale_factor: float = 1.1) -> None:
        path = Path(cv2.data.haarcascades) / CASCADE_FILE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path} (needs opencv-python 4.x)")
        self._lock = threading.Lock()
        self.min_neighbors = min_neighbors
        self.scale_factor = scale_factor

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Faces in a BGR image: ``N x 5`` (x1, y1, x2, y2 in pixels, conf 0..1)."""
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        with self._lock:
            rects, _levels, weights = self._cascade.detectMultiScale3(
                gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(MIN_FACE_PX, MIN_FACE_PX), outputRejectLevels=True,
            )
        if len(rects) == 0:
            return EMPTY_FACES.copy()
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        # The last stage's sum is about 0 at its threshold and ~3..8 for clear faces.
        conf = margin_to_score(np.asarray(weights, dtype=np.float64).ravel() / 2.0)
        return np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2],
                                rects[:, 1] + rects[:, 3], conf])

    @staticmethod
    def describe() -> str:
        """What /health reports about faces."""
        return f"haar ({CASCADE_FILE})"
