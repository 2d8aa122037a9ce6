"""FaceDetector (``face``): faces of the objects in the zones, published live.

For each object whose anchor is in a zone, the top square of its box (where a
standing person's head is) is cropped and sent to the face detector; faces at or
above the processor's ``threshold`` are published as one message per frame, in
the WebSocket protocol's shape (DESIGN.md). It stores no events. The detector
client and the publisher are injected through :class:`ProcessorContext`, so the
watcher passes ``functools.partial(server.faces_pub.publish_faces, redis)`` and a
test passes a list's ``append``. ``frame_ts`` is written like the metric API's time
stamps, ``"%Y-%m-%d %H:%M:%S.%f"`` in the camera's local time (``camera_tz``).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import cv2
import numpy as np

from detector_client import DetectorError
from server.processors.base import Event, Overlay, ProcessorRuntime, register
from server.processors.frames import Frame
from server.processors.geometry import anchor_points, boxes_px, top_square_px
from server.timefmt import format_camera_time

log = logging.getLogger(__name__)

JPEG_QUALITY = 90
# The smallest crop worth sending: a head under this many pixels has no detectable face.
MIN_CROP_PX = 12


def _encode_jpeg_b64(image: np.ndarray) -> str:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"cannot JPEG-encode an image of shape {image.shape}")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def face_entry(frame_bgr: np.ndarray, bbox_px: tuple[int, int, int, int], conf: float) -> dict[str, Any]:
    """One face of the protocol: its box in frame pixels, confidence, and the JPEG of that box."""
    x1, y1, x2, y2 = bbox_px
    face = frame_bgr[y1:y2, x1:x2]
    return {
        "bbox": [x1, y1, x2, y2],
        "conf": round(float(conf), 4),
        "shape": list(face.shape),
        "img": _encode_jpeg_b64(face),
    }


@register
class FaceDetector(ProcessorRuntime):
    """Sends the head of every object in a zone to the face detector and publishes what it finds."""

    type_key = "face"
    _detector_failing = False

    def _process(self, frame: Frame) -> list[Event]:
        settings = self.settings
        detections = frame.detections.filtered(0.0, settings.classes)
        boxes = boxes_px(detections.boxes_rel, frame.size_wh)
        inside = self.zones_for(frame).contains_px(anchor_points(boxes, settings.anchor))
        faces = self._faces(frame, boxes[inside]) if self.context.face_detector else []
        self.last_overlay = Overlay(
            boxes_rel=detections.boxes_rel,
            inside=inside,
            faces_rel=np.array([f["bbox"] for f in faces], dtype=np.float64).reshape(-1, 4)
            / np.tile(frame.size_wh, 2),
            count=len(faces),
            label=f"faces: {len(faces)}",
        )
        if faces:
            self._publish(frame, faces)
        return []

    def _faces(self, frame: Frame, boxes: np.ndarray) -> list[dict[str, Any]]:
        """Faces at or above the threshold in the head squares of ``boxes`` (pixels)."""
        found = []
        for box in boxes:
            x1, y1, x2, y2 = top_square_px(box, frame.size_wh)
            if min(x2 - x1, y2 - y1) < MIN_CROP_PX:
                continue
            try:
                results = self.context.face_detector.detect_faces(frame.image[y1:y2, x1:x2])
            except DetectorError as exc:
                self._report_failure(exc)
                return found
            self._report_recovery()
            for face in results:
                if face.conf >= self.settings.threshold:
                    fx1, fy1, fx2, fy2 = face.bbox
                    bbox = (x1 + fx1, y1 + fy1, x1 + fx2, y1 + fy2)
                    if bbox[2] > bbox[0] and bbox[3] > bbox[1]:
                        found.append(face_entry(frame.image, bbox, face.conf))
        return found

    def _publish(self, frame: Frame, faces: list[dict[str, Any]]) -> None:
        message = {
            "frame_ts": format_camera_time(frame.ts, self.context.camera_tz),
            "container": "jpg",
            "camera_id": self.settings.camera_id,
            "camera_url": self.context.camera_url,
            "faces": faces,
        }
        if self.context.publish_faces is None:
            return
        try:
            self.context.publish_faces(message)
        except Exception:
            # Whatever the transport raises, a lost live message must not stop the other
            # processors of the watcher: they still count and store events.
            log.exception("processor %s: publishing %d faces failed", self.settings.id, len(faces))

    def _report_failure(self, exc: Exception) -> None:
        """Log a face detector failure once, not once per crop of every frame."""
        if not self._detector_failing:
            log.warning("processor %s: face detector failing: %s", self.settings.id, exc)
        self._detector_failing = True

    def _report_recovery(self) -> None:
        if self._detector_failing:
            log.info("processor %s: face detector answers again", self.settings.id)
        self._detector_failing = False
