"""Clients of the detector protocol (DESIGN.md, "Detector protocol").

They take their settings as arguments and read neither configuration nor environment:
the watcher owns the configuration and passes values down.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from detector_client import mosaic, protocol
from detector_client.errors import DetectorProtocolError
from detector_client.transport import RetryPolicy, post_jpeg

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found in one frame.

    Attributes:
        box: ``(x_min, y_min, x_max, y_max)`` relative (0..1) to the frame.
        score: detector confidence, 0..1.
        class_id: COCO class id (0 = person).
    """

    box: tuple[float, float, float, float]
    score: float
    class_id: int


@dataclass(frozen=True, slots=True)
class FaceBox:
    """One face found in a crop.

    Attributes:
        bbox: ``(x_min, y_min, x_max, y_max)`` in pixels of the crop.
        conf: detector confidence, 0..1.
    """

    bbox: tuple[int, int, int, int]
    conf: float


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a BGR image."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot JPEG-encode an image of shape {image.shape}")
    return buf.tobytes()


def _check_quality(jpeg_quality: int) -> int:
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be within 1..100, got {jpeg_quality}")
    return jpeg_quality


class ObjectDetectorClient:
    """Posts mosaics of frames to an object detector and splits the answer per frame.

    Args:
        url: the detector's object endpoint (``OBJECT_DETECTOR_URL``).
        connect_timeout_s, read_timeout_s: per attempt.
        retries: extra attempts after a refused, timed-out or 5xx request.
        backoff_s: sleep before the first retry, doubled before each next one.
        jpeg_quality: 1..100; lower is smaller on the wire but blurs small people.

    Examples:
        >>> client = ObjectDetectorClient("http://127.0.0.1:8501/detect")
        >>> client.detect([], (2, 2))
        []
    """

    def __init__(self, url: str, *, connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0,
                 retries: int = 2, backoff_s: float = 0.5, jpeg_quality: int = 85) -> None:
        self.url = url
        self.policy = RetryPolicy(connect_timeout_s, read_timeout_s, retries, backoff_s)
        self.jpeg_quality = _check_quality(jpeg_quality)

    def detect(self, frames: Sequence[np.ndarray], grid: tuple[int, int]) -> list[list[Detection]]:
        """Detect objects in up to ``rows * cols`` same-sized BGR frames with one request.

        Returns:
            One list of detections per frame, in the order of ``frames``, boxes relative
            to that frame.

        Raises:
            ValueError: a batch that does not fit the grid, or frames of different sizes.
            DetectorUnavailable: the detector is down, slow or failing (5xx).
            DetectorProtocolError: the answer is not the protocol.
        """
        if not frames:
            return []
        rows, cols = mosaic.validate_grid(grid)
        image = mosaic.tile_frames(frames, (rows, cols))
        payload = post_jpeg(self.url, encode_jpeg(image, self.jpeg_quality), self.policy,
                            {"X-Grid": f"{rows}x{cols}"})
        try:
            dets = protocol.parse_objects(payload)
        except ValueError as exc:
            raise DetectorProtocolError(f"detector {self.url}: {exc}", url=self.url) from exc
        per_tile = mosaic.split_detections_rel(dets, (rows, cols), n_tiles=len(frames))
        return [[_detection(row) for row in tile] for tile in per_tile]


def _detection(row: np.ndarray) -> Detection:
    box = (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
    return Detection(box=box, score=float(row[4]), class_id=int(row[5]))


class FaceDetectorClient:
    """Posts a crop (the top of a person's box) to a face detector.

    Same arguments as :class:`ObjectDetectorClient`; ``url`` is ``FACE_DETECTOR_URL``.
    """

    def __init__(self, url: str, *, connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0,
                 retries: int = 2, backoff_s: float = 0.5, jpeg_quality: int = 85) -> None:
        self.url = url
        self.policy = RetryPolicy(connect_timeout_s, read_timeout_s, retries, backoff_s)
        self.jpeg_quality = _check_quality(jpeg_quality)

    def detect_faces(self, crop: np.ndarray) -> list[FaceBox]:
        """Faces in a BGR crop, boxes in pixels of the crop.

        Raises:
            ValueError: an empty crop or not an HxWx3 uint8 image.
            DetectorUnavailable, DetectorProtocolError: as for objects.
        """
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8 or 0 in crop.shape:
            raise ValueError(f"expected a non-empty HxWx3 uint8 BGR crop, got {crop.shape} {crop.dtype}")
        payload = post_jpeg(self.url, encode_jpeg(crop, self.jpeg_quality), self.policy)
        try:
            faces = protocol.parse_faces(payload, (crop.shape[1], crop.shape[0]))
        except ValueError as exc:
            raise DetectorProtocolError(f"face detector {self.url}: {exc}", url=self.url) from exc
        return [FaceBox(bbox=tuple(round(float(v)) for v in row[:4]), conf=float(row[4])) for row in faces]
