"""FaceDetector: which crops go to the face detector, which faces are published, and how.

Two face detectors, both over real HTTP: a small server in the test that answers
the face protocol with boxes it is told (to check crops, thresholds and the mapping
of boxes to the frame exactly), and the real ``detector_service`` with its Haar
cascade on a real face (to check the whole path, through Redis as the watcher
publishes). Nothing is mocked.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector_client import FaceDetectorClient
from server.faces_pub import faces_channel, publish_faces
from server.processors import Detections, FaceDetector, Frame, ProcessorContext, ProcessorSettings
from tests.processors.scenes import BAND
from tests.support.servers import free_port

FACE_IMAGE = Path(__file__).resolve().parents[1] / "detector" / "data" / "astronaut_head.jpg"
TS = datetime(2024, 5, 6, 12, 0, 0, 250000, tzinfo=UTC)
FRAME_WH = (640, 480)


class FaceStub:
    """A face detector on loopback that answers fixed boxes (pixels of the crop) and records crops."""

    def __init__(self, boxes: list[list[int]], conf: list[float]) -> None:
        self.answer = {"boxes": boxes, "conf": conf}
        self.crops: list[tuple[int, ...]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                crop = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
                stub.crops.append(crop.shape)
                payload = json.dumps(stub.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/faces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def stub() -> Iterator[FaceStub]:
    # In a 40x40 head crop: a clear face and a doubtful one.
    server = FaceStub(boxes=[[10, 10, 30, 30], [0, 0, 8, 8]], conf=[0.9, 0.4])
    yield server
    server.close()


def frame_with(*boxes_px: tuple[float, float, float, float], image: np.ndarray | None = None) -> Frame:
    """A frame whose detections are people with these pixel boxes."""
    if image is None:
        # Smooth gradients (JPEG keeps them), different everywhere, to tell crops apart.
        y, x = np.mgrid[0 : FRAME_WH[1], 0 : FRAME_WH[0]]
        image = np.dstack([x * 255 // FRAME_WH[0], y * 255 // FRAME_WH[1], np.full_like(x, 128)]).astype(np.uint8)
    rows = [[b[0] / FRAME_WH[0], b[1] / FRAME_WH[1], b[2] / FRAME_WH[0], b[3] / FRAME_WH[1], 0.9, 0] for b in boxes_px]
    return Frame(image, TS, Detections.from_rows(rows))


def face_runtime(url: str, published: list, threshold: float = 0.5, **context) -> FaceDetector:
    settings = ProcessorSettings(id=5, camera_id=2, type="face", zones=(BAND,), threshold=threshold)
    client = FaceDetectorClient(url, retries=0, connect_timeout_s=1, read_timeout_s=5)
    return FaceDetector(settings, ProcessorContext(camera_url="rtsp://cam/2", face_detector=client,
                                                   publish_faces=published.append, **context))


IN_ZONE = (300, 100, 340, 300)  # 40 px wide, feet in the band
OUT_OF_ZONE = (50, 100, 90, 300)


def test_only_the_head_square_of_people_in_a_zone_is_sent(stub: FaceStub) -> None:
    published: list = []
    assert face_runtime(stub.url, published).process([frame_with(IN_ZONE, OUT_OF_ZONE)]) == []
    assert stub.crops == [(40, 40, 3)]


@pytest.mark.parametrize(("threshold", "confs"), [(0.5, [0.9]), (0.4, [0.9, 0.4]), (0.95, [])])
def test_faces_at_or_above_the_threshold_are_published(stub: FaceStub, threshold, confs) -> None:
    published: list = []
    face_runtime(stub.url, published, threshold).process([frame_with(IN_ZONE)])
    assert [face["conf"] for message in published for face in message["faces"]] == confs
    assert len(published) == (1 if confs else 0), "one message per frame with faces"


def test_the_message_follows_the_websocket_protocol(stub: FaceStub) -> None:
    published: list = []
    frame = frame_with(IN_ZONE)
    face_runtime(stub.url, published, camera_tz=3).process([frame])
    [message] = published
    assert {k: v for k, v in message.items() if k != "faces"} == {
        "frame_ts": "2024-05-06 15:00:00.250000", "container": "jpg", "camera_id": 2, "camera_url": "rtsp://cam/2"}
    [face] = message["faces"]
    assert face["bbox"] == [310, 110, 330, 130], "face box in pixels of the frame"
    assert face["shape"] == [20, 20, 3]
    jpeg = cv2.imdecode(np.frombuffer(base64.b64decode(face["img"]), np.uint8), cv2.IMREAD_COLOR)
    assert jpeg.shape == (20, 20, 3)
    assert np.abs(jpeg.astype(int) - frame.image[110:130, 310:330]).mean() < 4, "the JPEG is that part of the frame"


def test_people_too_small_for_a_face_are_not_sent(stub: FaceStub) -> None:
    face_runtime(stub.url, []).process([frame_with((300, 200, 308, 230))])
    assert stub.crops == []


def test_a_face_detector_that_is_down_is_reported_once_and_skipped(caplog) -> None:
    published: list = []
    runtime = face_runtime(f"http://127.0.0.1:{free_port()}/faces", published)
    with caplog.at_level(logging.WARNING, logger="server.processors.faces"):
        for _ in range(3):
            assert runtime.process([frame_with(IN_ZONE)]) == []
    assert published == []
    assert len([r for r in caplog.records if "face detector failing" in r.message]) == 1


def test_a_failing_publisher_does_not_stop_the_processor(stub: FaceStub, caplog) -> None:
    def broken(message: dict) -> None:
        raise ConnectionError("relay away")

    settings = ProcessorSettings(id=5, camera_id=2, type="face", zones=(BAND,))
    runtime = FaceDetector(settings, ProcessorContext(face_detector=FaceDetectorClient(stub.url), publish_faces=broken))
    with caplog.at_level(logging.ERROR, logger="server.processors.faces"):
        assert runtime.process([frame_with(IN_ZONE)]) == []
    assert "publishing 1 faces failed" in caplog.text
    assert runtime.last_overlay.count == 1


def test_a_real_face_found_by_the_detector_service_reaches_redis(detector_url: str, redis_client) -> None:
    """The Haar cascade of ``detector_service --backend opencv`` on a real face, published with publish_faces."""
    if not FACE_IMAGE.is_file():
        pytest.skip(f"{FACE_IMAGE} (the detector tests' face) is absent")
    head = cv2.imread(str(FACE_IMAGE))  # 240x240, the face at about x, y 61..166
    image = np.full((FRAME_WH[1], FRAME_WH[0], 3), 90, dtype=np.uint8)
    image[20:260, 200:440] = head
    settings = ProcessorSettings(id=5, camera_id=2, type="face", zones=(BAND,), threshold=0.3)
    client = FaceDetectorClient(f"{detector_url}/faces")
    context = ProcessorContext(camera_url="rtsp://cam/2", face_detector=client,
                               publish_faces=functools.partial(publish_faces, redis_client))
    runtime = FaceDetector(settings, context)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(faces_channel(2))
    pubsub.get_message(timeout=5)  # the subscription's confirmation
    # A person standing in the band, the head at the top of the box.
    runtime.process([frame_with((200, 20, 440, 460), image=image)])
    message = pubsub.get_message(timeout=5)
    pubsub.close()
    assert message is not None, "nothing published"
    [face] = json.loads(message["data"])["faces"]
    expected = np.array([200 + 61, 20 + 61, 200 + 166, 20 + 166])
    assert np.abs(np.array(face["bbox"]) - expected).max() <= 20
    assert face["conf"] >= 0.3
