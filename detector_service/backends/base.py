"""The interface every detector backend implements (one file per backend, one registry).

A backend sees tiles, never mosaics or HTTP: the service cuts a mosaic along its
``X-Grid`` so that a backend can infer all tiles as one batch, and maps the results
back into whole-image coordinates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from detector_service.settings import ServiceSettings

EMPTY_DETECTIONS = np.zeros((0, 6), dtype=np.float64)
EMPTY_FACES = np.zeros((0, 5), dtype=np.float64)


class DetectorBackend(ABC):
    """A detector of objects in tiles and of faces in crops.

    Implementations must be safe to call from several request threads at once.
    """

    type_key: ClassVar[str]
    """The name that selects the backend (``--backend``)."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: ServiceSettings) -> DetectorBackend:
        """Build the backend (load models) from the service settings."""

    @abstractmethod
    def detect(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        """Objects in each BGR tile.

        Returns:
            One ``N x 6`` float array per tile: ``x_min, y_min, x_max, y_max`` relative
            (0..1) to that tile, ``score`` (0..1) and COCO ``class_id``.
        """

    @abstractmethod
    def detect_faces(self, image: np.ndarray) -> np.ndarray:
        """Faces in a BGR crop: an ``N x 5`` array ``x1, y1, x2, y2`` (pixels), ``conf`` (0..1)."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """What ``/health`` reports: at least ``backend``, ``model``, ``device`` and ``faces``."""


def boxes_px_to_rel(boxes_xyxy_px: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """Clip pixel boxes to the image and divide by its size."""
    rel = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4).copy()
    rel[:, [0, 2]] = np.clip(rel[:, [0, 2]], 0, width_px) / width_px
    rel[:, [1, 3]] = np.clip(rel[:, [1, 3]], 0, height_px) / height_px
    return rel


def margin_to_score(margin: np.ndarray) -> np.ndarray:
    """Map a classifier margin (0 at its decision threshold, unbounded above) to 0..1.

    ``1 - exp(-margin)``: monotonic, 0 at the threshold, 0.63 at a margin of 1, so that
    one ``threshold`` setting of a processor means the same for HOG and Haar as for YOLO.
    """
    return 1.0 - np.exp(-np.clip(np.asarray(margin, dtype=np.float64), 0.0, None))
