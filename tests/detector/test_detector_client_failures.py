"""The client against real HTTP servers that misbehave: down, slow, garbage, flaky.

Each test runs a tiny scripted HTTP server on loopback; no mock of requests.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from detector_client import (
    Detection,
    DetectorError,
    DetectorProtocolError,
    DetectorUnavailable,
    FaceBox,
    FaceDetectorClient,
    ObjectDetectorClient,
)

FAST = {"connect_timeout_s": 1.0, "read_timeout_s": 2.0, "backoff_s": 0.01}
VALID = json.dumps([[0.1, 0.2, 0.3, 0.4, 0.9, 0]]).encode()


@dataclass
class Reply:
    """One scripted answer: status, body, and a delay before it."""

    status: int = 200
    body: bytes = VALID
    delay_s: float = 0.0


@dataclass
class Script:
    """Answers in order (the last one repeats) and what the server received."""

    replies: list[Reply]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script = script

    def handle_error(self, request, client_address) -> None:
        """The client hung up on a slow answer: expected here, not worth a traceback."""


class ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.script.requests.append((dict(self.headers), body))
        reply = self.server.script.next_reply()
        time.sleep(reply.delay_s)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def serve() -> Iterator:
    """``serve(*replies) -> (url, script)``: a scripted detector on a free loopback port."""
    servers: list[ScriptedServer] = []

    def start(*replies: Reply) -> tuple[str, Script]:
        script = Script(list(replies))
        server = ScriptedServer(script)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/detect", script

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def frames(n: int = 2, height_px: int = 48, width_px: int = 64) -> list[np.ndarray]:
    return [np.full((height_px, width_px, 3), 40 * i, np.uint8) for i in range(n)]


def refused_url() -> str:
    """A loopback port with nothing listening: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/detect"


def test_client_posts_a_jpeg_mosaic_with_its_grid(serve) -> None:
    url, script = serve(Reply(body=json.dumps([[0.55, 0.6, 0.95, 0.9, 0.8, 0]]).encode()))
    result = ObjectDetectorClient(url, **FAST).detect(frames(3), (2, 2))
    headers, body = script.requests[0]
    assert headers["X-Grid"] == "2x2"
    assert headers["Content-Type"] == "image/jpeg"
    mosaic = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert mosaic.shape == (96, 128, 3)
    assert mosaic[60:90, 70:120].mean() < 5  # the fourth tile is black padding
    assert [len(r) for r in result] == [0, 0, 0]  # the box was in the padding tile
    assert len(result) == 3


def test_client_splits_answers_per_frame(serve) -> None:
    answer = [[0.1, 0.1, 0.3, 0.4, 0.9, 0], [0.6, 0.2, 0.9, 0.8, 0.7, 2]]
    url, _ = serve(Reply(body=json.dumps(answer).encode()))
    left, right = ObjectDetectorClient(url, **FAST).detect(frames(2), (1, 2))
    assert left == [Detection(box=pytest.approx((0.2, 0.1, 0.6, 0.4)), score=0.9, class_id=0)]
    assert right == [Detection(box=pytest.approx((0.2, 0.2, 0.8, 0.8)), score=0.7, class_id=2)]


def test_connection_refused_is_unavailable() -> None:
    client = ObjectDetectorClient(refused_url(), retries=1, **FAST)
    with pytest.raises(DetectorUnavailable, match="connection failed") as caught:
        client.detect(frames(1), (1, 1))
    assert caught.value.attempts == 2
    assert isinstance(caught.value, DetectorError)


def test_slow_detector_times_out_as_unavailable(serve) -> None:
    url, script = serve(Reply(delay_s=1.5))
    client = ObjectDetectorClient(url, connect_timeout_s=1.0, read_timeout_s=0.3, retries=1, backoff_s=0.01)
    with pytest.raises(DetectorUnavailable, match="timed out"):
        client.detect(frames(1), (1, 1))
    assert len(script.requests) == 2


def test_server_errors_then_success_are_retried(serve) -> None:
    url, script = serve(Reply(500, b"oops"), Reply(503, b"busy"), Reply())
    result = ObjectDetectorClient(url, retries=2, **FAST).detect(frames(1), (1, 1))
    assert len(script.requests) == 3
    assert result == [[Detection(box=pytest.approx((0.1, 0.2, 0.3, 0.4)), score=0.9, class_id=0)]]


def test_server_errors_beyond_the_retries_are_unavailable(serve) -> None:
    url, script = serve(Reply(502, b"bad gateway"))
    with pytest.raises(DetectorUnavailable, match="HTTP 502 after 3 attempts"):
        ObjectDetectorClient(url, retries=2, **FAST).detect(frames(1), (1, 1))
    assert len(script.requests) == 3


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (Reply(body=b"<html>not json</html>"), "not JSON"),
        (Reply(body=b'{"boxes": []}'), "JSON list"),
        (Reply(body=b"[[0.1, 0.2, 0.3]]"), "list of 6"),
        (Reply(body=b"[[NaN, 0.2, 0.3, 0.4, 0.9, 0]]"), "non-finite"),
        (Reply(body=b"[[0.1, 0.2, 1.3, 0.4, 0.9, 0]]"), "outside the image"),
        (Reply(404, b'{"err": true, "msg": "no such page"}'), "HTTP 404"),
        (Reply(400, b'{"err": true, "msg": "bad grid"}'), "bad grid"),
    ],
)
def test_garbage_is_a_protocol_error_without_retry(serve, reply, match) -> None:
    url, script = serve(reply)
    with pytest.raises(DetectorProtocolError, match=match):
        ObjectDetectorClient(url, retries=2, **FAST).detect(frames(1), (1, 1))
    assert len(script.requests) == 1


def test_face_client_reads_boxes_in_crop_pixels(serve) -> None:
    url, script = serve(Reply(body=json.dumps({"boxes": [[10.4, 5, 30, 25.6]], "conf": [0.8]}).encode()))
    faces = FaceDetectorClient(url, **FAST).detect_faces(frames(1)[0])
    assert faces == [FaceBox(bbox=(10, 5, 30, 26), conf=0.8)]
    assert "X-Grid" not in script.requests[0][0]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(body=b'{"boxes": [[0, 0, 10, 10]], "conf": []}'), DetectorProtocolError),
        (Reply(body=b'{"boxes": [[0, 0, 200, 10]], "conf": [0.9]}'), DetectorProtocolError),
        (Reply(body=b"[]"), DetectorProtocolError),
        (Reply(503, b""), DetectorUnavailable),
    ],
)
def test_face_client_failures(serve, reply, error) -> None:
    url, _ = serve(reply)
    with pytest.raises(error):
        FaceDetectorClient(url, retries=1, **FAST).detect_faces(frames(1)[0])


def test_face_client_down() -> None:
    with pytest.raises(DetectorUnavailable):
        FaceDetectorClient(refused_url(), retries=0, **FAST).detect_faces(frames(1)[0])


@pytest.mark.parametrize(
    ("batch", "grid", "match"),
    [
        ([np.zeros((48, 64, 3), np.uint8), np.zeros((48, 80, 3), np.uint8)], (1, 2), "share one size"),
        (frames(5), (2, 2), "do not fit"),
    ],
)
def test_bad_batches_fail_before_any_request(serve, batch, grid, match) -> None:
    url, script = serve(Reply())
    with pytest.raises(ValueError, match=match):
        ObjectDetectorClient(url, **FAST).detect(batch, grid)
    assert script.requests == []


def _session_state_in_child(queue) -> None:
    from detector_client import transport

    session = transport.shared_session()
    queue.put((list(transport._sessions) == [os.getpid()], session is transport.shared_session()))


def test_one_pooled_session_per_process() -> None:
    """The same session serves every client of a process; a forked child builds its own."""
    from detector_client import transport

    parent = transport.shared_session()
    assert parent is transport.shared_session()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_session_state_in_child, args=(queue,))
    child.start()
    child.join(timeout=30)
    assert queue.get(timeout=5) == (True, True)
    assert transport.shared_session() is parent


def test_concurrent_clients_share_the_pool(serve) -> None:
    url, script = serve(Reply())
    client = ObjectDetectorClient(url, **FAST)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: client.detect(frames(1), (1, 1)), range(12)))
    assert all(len(r[0]) == 1 for r in results)
    assert len(script.requests) == 12
