"""The ``opencv`` detector service over real HTTP: health, metrics, bad input, people in vtest.avi."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from detector_client import Detection, FaceDetectorClient, ObjectDetectorClient

FRAME_WH = (768, 576)
REPO_ROOT = Path(__file__).resolve().parents[2]


def matched_people(dets: list[Detection], people_px: list[tuple[int, int]], wh: tuple[int, int] = FRAME_WH) -> int:
    """People whose point lies inside a distinct person box (greedy, best score first)."""
    free = sorted((d for d in dets if d.class_id == 0), key=lambda d: -d.score)
    found = 0
    for x_px, y_px in people_px:
        x, y = x_px / wh[0], y_px / wh[1]
        hit = next((d for d in free if d.box[0] <= x <= d.box[2] and d.box[1] <= y <= d.box[3]), None)
        if hit is not None:
            free.remove(hit)
            found += 1
    return found


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_health_names_backend_model_device(opencv_service: str) -> None:
    health = requests.get(f"{opencv_service}/health", timeout=5).json()
    assert health["status"] == "ok"
    assert health["backend"] == "opencv"
    assert health["device"] == "cpu"
    assert "hog" in health["model"] and "haar" in health["faces"]


def test_mosaic_of_two_vtest_frames_has_people_in_both_halves(opencv_service: str, vtest_frames,
                                                             vtest_people) -> None:
    frames = vtest_frames([400, 700])
    mosaic = np.hstack([frames[400], frames[700]])
    raw = requests.post(f"{opencv_service}/detect", data=jpeg(mosaic),
                        headers={"X-Grid": "1x2", "Content-Type": "image/jpeg"}, timeout=30).json()
    centres_x = [(row[0] + row[2]) / 2 for row in raw]
    assert any(x < 0.5 for x in centres_x) and any(x > 0.5 for x in centres_x)
    assert all(0 <= v <= 1 for row in raw for v in row[:4])  # relative to the whole mosaic
    assert all(row[2] <= 0.5 or row[0] >= 0.5 for row in raw)  # no box crosses the tile border

    left, right = ObjectDetectorClient(f"{opencv_service}/detect").detect([frames[400], frames[700]], (1, 2))
    assert matched_people(left, vtest_people[400]) >= 2
    assert matched_people(right, vtest_people[700]) >= 4


def test_hog_finds_most_people_of_vtest(opencv_service: str, vtest_frames, vtest_people) -> None:
    frames = vtest_frames(sorted(vtest_people))
    client = ObjectDetectorClient(f"{opencv_service}/detect")
    found = {index: matched_people(client.detect([frame], (1, 1))[0], vtest_people[index])
             for index, frame in frames.items()}
    total = sum(len(p) for p in vtest_people.values())
    assert sum(found.values()) >= 0.7 * total, f"found {found} of {[len(p) for p in vtest_people.values()]}"
    assert all(found[i] >= len(vtest_people[i]) / 2 for i in found), found


def test_faces_endpoint_finds_a_real_face(opencv_service: str, astronaut_head: np.ndarray) -> None:
    faces = FaceDetectorClient(f"{opencv_service}/faces").detect_faces(astronaut_head)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].bbox
    assert 40 <= x1 <= 80 and 40 <= y1 <= 80 and 150 <= x2 <= 190 and 150 <= y2 <= 190
    assert 0.5 < faces[0].conf <= 1.0


def test_faces_endpoint_on_a_faceless_crop(opencv_service: str) -> None:
    answer = requests.post(f"{opencv_service}/faces", data=jpeg(np.full((120, 80, 3), 90, np.uint8)), timeout=10)
    assert answer.json() == {"boxes": [], "conf": []}


def giant_jpeg() -> bytes:
    data = bytearray(jpeg(np.zeros((8, 8, 3), np.uint8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2
    return bytes(data)


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "msg"),
    [
        ("post", "/detect", b"", {}, 400, "empty body"),
        ("post", "/detect", b"GIF89a not a jpeg", {}, 400, "not a JPEG"),
        ("post", "/detect", b"\xff\xd8\xff\xdb\x00\x04\x00\x00\xff\xd9", {}, 400, "JPEG"),
        ("post", "/detect", giant_jpeg(), {}, 413, "exceeds"),
        ("post", "/faces", giant_jpeg(), {}, 413, "exceeds"),
        ("post", "/detect", jpeg(np.zeros((48, 64, 3), np.uint8)), {"X-Grid": "two by two"}, 400, "X-Grid"),
        ("post", "/detect", jpeg(np.zeros((48, 64, 3), np.uint8)), {"X-Grid": "0x2"}, 400, "X-Grid"),
        ("post", "/detect", jpeg(np.zeros((48, 64, 3), np.uint8)), {"X-Grid": "1x3"}, 400, "equal tiles"),
        ("get", "/detect", None, {}, 405, ""),
        ("get", "/nowhere", None, {}, 404, ""),
    ],
)
def test_bad_requests_get_json_4xx_and_the_service_lives(opencv_service, method, path, body, headers,
                                                         status, msg) -> None:
    answer = requests.request(method, f"{opencv_service}{path}", data=body, headers=headers, timeout=10)
    assert answer.status_code == status
    assert answer.json()["err"] is True
    assert msg in answer.json()["msg"]
    assert requests.get(f"{opencv_service}/health", timeout=5).status_code == 200


def test_metrics_count_requests_images_latency_errors(opencv_service: str) -> None:
    black = jpeg(np.zeros((64, 64, 3), np.uint8))
    requests.post(f"{opencv_service}/detect", data=black, headers={"X-Grid": "2x2"}, timeout=10)
    requests.post(f"{opencv_service}/detect", data=b"junk", timeout=10)
    text = requests.get(f"{opencv_service}/metrics", timeout=5).text
    for needle in (
        'hypersight_detector_requests_total{endpoint="detect",status="200"}',
        'hypersight_detector_images_total{endpoint="detect"}',
        'hypersight_detector_request_seconds_bucket{endpoint="detect",le="0.5"}',
        'hypersight_detector_errors_total{endpoint="detect",kind="client"}',
    ):
        assert needle in text


@pytest.mark.parametrize(
    ("height_px", "width_px", "grid"),
    [(1, 1, "1x1"), (64, 64, "2x2"), (8, 8, "8x8"), (1, 2000, "1x4"), (2000, 1, "4x1"), (100, 60, "1x1")],
)
def test_tiny_and_thin_images_are_answered(opencv_service: str, height_px: int, width_px: int, grid: str) -> None:
    """Images smaller than HOG's window once crashed OpenCV (and the process): now an empty answer."""
    noise = np.random.default_rng(0).integers(60, 200, (height_px, width_px, 3), dtype=np.uint8)
    body = jpeg(noise)  # not black: black tiles are skipped as padding, these must reach the backend
    for path, headers in (("/detect", {"X-Grid": grid}), ("/faces", {})):
        answer = requests.post(f"{opencv_service}{path}", data=body, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
    assert requests.get(f"{opencv_service}/health", timeout=5).status_code == 200


def run_module(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSIGHT_DETECTOR_")}
    return subprocess.run([sys.executable, "-m", "detector_service", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_help_documents_the_flags() -> None:
    result = run_module("--help")
    assert result.returncode == 0
    for flag in ("--host", "--port", "--backend", "--model", "--score-threshold", "--classes", "HYPERSIGHT_DETECTOR_"):
        assert flag in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--backend", "onnx"), "needs a model file"),
        (("--backend", "onnx", "--model", "/nonexistent.onnx"), "model not found"),
        (("--backend", "onnx", "--model", "{not_onnx}"), "INVALID_PROTOBUF"),
        (("--score-threshold", "3"), "score_threshold"),
    ],
)
def test_bad_settings_stop_the_start_with_a_message(args, message, tmp_path: Path) -> None:
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_text("not a model")
    result = run_module("--port", "1", *(a.format(not_onnx=not_onnx) for a in args))
    assert result.returncode == 2
    assert message in result.stderr


def test_concurrent_requests_are_all_answered(opencv_service: str, vtest_frames) -> None:
    frame = vtest_frames([400])[400]
    client = ObjectDetectorClient(f"{opencv_service}/detect")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: client.detect([frame, frame], (1, 2)), range(6)))
    assert all(len(left) == len(right) > 0 for left, right in results)


def images_counted(base_url: str) -> float:
    for line in requests.get(f"{base_url}/metrics", timeout=5).text.splitlines():
        if line.startswith('hypersight_detector_images_total{endpoint="detect"}'):
            return float(line.split()[-1])
    return 0.0


def test_black_padding_tiles_are_not_inferred(opencv_service: str, vtest_frames) -> None:
    frame = vtest_frames([400])[400]
    before = images_counted(opencv_service)
    (dets,) = ObjectDetectorClient(f"{opencv_service}/detect").detect([frame], (2, 2))
    assert len(dets) >= 2
    assert images_counted(opencv_service) - before == 1
