"""A protocol-faithful object detector for watcher tests, with answers known from synthetic video.

It speaks DESIGN.md's detector protocol over real HTTP (JPEG in, X-Grid header,
``[[x_min, y_min, x_max, y_max, score, class_id], ...]`` relative to the whole
image out) and "detects" bright blobs: in the synthetic streams of
tests/support/streams.py each white box is one person. Used instead of the
reference service because its answers on those streams are exact; the
reference service itself is tested in tests/detector/. It can be switched to
answer 503 (down) or garbage (a detector that lies).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

MIN_AREA_PX = 60


def find_blobs(image: np.ndarray) -> list[list[float]]:
    """White boxes of the synthetic video, relative to the image."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, mask = cv2.threshold(grey, 128, 255, cv2.THRESH_BINARY)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    height, width = grey.shape
    rows = []
    for x, y, w, h, area in stats[1:count]:
        if area >= MIN_AREA_PX:
            rows.append([x / width, y / height, (x + w) / width, (y + h) / height, 0.9, 0])
    return rows


class BlobDetector:
    """``mode`` is "ok", "down" (503), "hang" (answers 503 after ``hang_s``, later than a client's
    timeout) or "garbage"; ``requests`` counts the images received.

    ``/faces`` answers one face per crop, so the face processor's path can be followed end to end.
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.hang_s = 8.0
        self.requests = 0
        detector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                detector.requests += 1
                if detector.mode == "hang":
                    time.sleep(detector.hang_s)
                if detector.mode in ("down", "hang"):
                    self._answer(503, b'{"err": true, "msg": "down"}')
                elif detector.mode == "garbage":
                    self._answer(200, b'[[0.1, 0.2, "x"]]')
                elif self.path.endswith("/faces"):
                    # Every crop has one face in its top-left corner (the face protocol: pixels of the crop).
                    self._answer(200, b'{"boxes": [[2, 2, 18, 18]], "conf": [0.95]}')
                else:
                    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
                    self._answer(200, json.dumps(find_blobs(image)).encode())

            def _answer(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting (the "hang" mode)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/detect"

    def __enter__(self) -> BlobDetector:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
