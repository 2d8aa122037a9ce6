"""Client side of the detector protocol: mosaic tiling, HTTP calls, results per frame.

Watchers need no GPU: they tile sampled frames into one JPEG mosaic, post it to a
detector service (``detector_service`` or any server speaking the protocol of
DESIGN.md), and get each frame's objects back. See docs/detector.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from detector_client.client import Detection, FaceBox, FaceDetectorClient, ObjectDetectorClient
from detector_client.errors import DetectorError, DetectorProtocolError, DetectorUnavailable

__all__ = [
    "Detection",
    "DetectorClients",
    "DetectorError",
    "DetectorProtocolError",
    "DetectorUnavailable",
    "FaceBox",
    "FaceDetectorClient",
    "ObjectDetectorClient",
    "from_config",
]

DEFAULTS: dict[str, Any] = {
    "OBJECT_DETECTOR_URL": "http://127.0.0.1:8501/detect",
    "FACE_DETECTOR_URL": "http://127.0.0.1:8501/faces",
    "DETECTOR_CONNECT_TIMEOUT_S": 3.0,
    "DETECTOR_READ_TIMEOUT_S": 10.0,
    "DETECTOR_RETRIES": 2,
    "DETECTOR_BACKOFF_S": 0.5,
    "DETECTOR_JPEG_QUALITY": 85,
}


class DetectorClients(NamedTuple):
    """Both clients of one configuration."""

    objects: ObjectDetectorClient
    faces: FaceDetectorClient


def from_config(config: Mapping[str, Any]) -> DetectorClients:
    """Build both clients from the project configuration's ``DETECTOR_*`` and ``*_DETECTOR_URL`` keys.

    Missing keys take the defaults of instance/config_example.py (``DEFAULTS``).

    Examples:
        >>> clients = from_config({"DETECTOR_RETRIES": 0})
        >>> clients.objects.url, clients.faces.policy.retries
        ('http://127.0.0.1:8501/detect', 0)
    """
    settings = {**DEFAULTS, **{k: v for k, v in config.items() if k in DEFAULTS}}
    common = {
        "connect_timeout_s": float(settings["DETECTOR_CONNECT_TIMEOUT_S"]),
        "read_timeout_s": float(settings["DETECTOR_READ_TIMEOUT_S"]),
        "retries": int(settings["DETECTOR_RETRIES"]),
        "backoff_s": float(settings["DETECTOR_BACKOFF_S"]),
        "jpeg_quality": int(settings["DETECTOR_JPEG_QUALITY"]),
    }
    return DetectorClients(
        objects=ObjectDetectorClient(str(settings["OBJECT_DETECTOR_URL"]), **common),
        faces=FaceDetectorClient(str(settings["FACE_DETECTOR_URL"]), **common),
    )
