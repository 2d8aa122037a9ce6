"""Fixtures of the detector tests: test data, a real detector service, a tiny YOLO model.

The service runs as ``python -m detector_service`` in a subprocess on a free loopback
port, exactly as an operator starts it; tests talk to it over real HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import requests
from onnx import TensorProto, helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"
SERVICE_START_TIMEOUT_S = 60.0

# Tiny YOLO model: a 64x64 input, 3 classes, known boxes (cx, cy, w, h in input pixels) and
# per-anchor weights; a class's score is the weight times the mean of that colour channel.
TINY_INPUT_SIDE_PX = 64
TINY_NUM_CLASSES = 3
TINY_BOXES_CXCYWH = [(32.0, 32.0, 20.0, 16.0), (33.0, 33.0, 20.0, 16.0), (12.0, 20.0, 8.0, 10.0)]
TINY_WEIGHTS = [1.0, 0.9, 0.8]

# People in vtest.avi (768x576), counted by eye on frames saved as PNG: a point on each
# person's body. Frame 100 has one far away at the top left and one half hidden by the sign.
VTEST_PEOPLE_PX = {
    100: [(230, 75), (362, 238), (392, 218), (440, 222), (507, 185), (528, 185), (602, 195)],
    250: [(50, 210), (207, 190), (400, 280), (560, 228), (617, 305), (645, 155), (667, 155)],
    400: [(288, 242), (603, 172), (715, 355)],
    550: [(138, 200), (612, 205), (655, 355), (197, 440), (260, 440), (418, 188)],
    700: [(121, 342), (197, 205), (294, 255), (380, 212), (414, 182), (485, 168), (531, 200), (705, 265)],
}


def sample_video_path() -> Path | None:
    """vtest.avi from HYPERSIGHT_SAMPLE_VIDEO or the shared folder beside the checkout."""
    candidates = [os.environ.get("HYPERSIGHT_SAMPLE_VIDEO"), SHARED_DATA / "vtest.avi", "/work/shared/data/vtest.avi"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def shared_models() -> list[Path]:
    """The pretrained YOLO models of the shared data folder (never part of the repo)."""
    for folder in (SHARED_DATA / "models", Path("/work/shared/data/models")):
        if folder.is_dir():
            return sorted(folder.glob("*.onnx"))
    return []


def read_frames(indices: list[int]) -> dict[int, np.ndarray]:
    """Frames of vtest.avi by index (skips the test where the video is absent)."""
    path = sample_video_path()
    if path is None:
        pytest.skip("vtest.avi not found (set HYPERSIGHT_SAMPLE_VIDEO or provide ../shared/data/vtest.avi)")
    capture = cv2.VideoCapture(str(path))
    frames = {}
    try:
        for index in indices:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            assert ok, f"cannot read frame {index} of {path}"
            frames[index] = frame
    finally:
        capture.release()
    return frames


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(base_url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"detector service exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"detector service not healthy after {SERVICE_START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")


def service_command(port: int, flags: tuple[str, ...], gunicorn: bool) -> list[str]:
    """``python -m detector_service`` with flags, or gunicorn running the app factory."""
    if gunicorn:
        return [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "2", "--no-control-socket",
                "--bind", f"127.0.0.1:{port}", "detector_service:create_app()"]
    return [sys.executable, "-m", "detector_service", "--host", "127.0.0.1", "--port", str(port), *flags]


@pytest.fixture(scope="module")
def start_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """``start_service(*flags, env=None, gunicorn=False) -> base URL``; stopped after the module.

    One service per distinct call. ``env`` adds ``HYPERSIGHT_DETECTOR_*`` variables (the
    caller's own are removed so that the host's settings do not leak into the tests).
    """
    running: dict[tuple, tuple[subprocess.Popen, str]] = {}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSIGHT_DETECTOR_")}
    log_dir = tmp_path_factory.mktemp("detector_service_logs")

    def start(*flags: str, env: dict[str, str] | None = None, gunicorn: bool = False) -> str:
        key = (flags, tuple(sorted((env or {}).items())), gunicorn)
        if key in running:
            return running[key][1]
        port = free_port()
        log_path = log_dir / f"service_{len(running)}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(service_command(port, flags, gunicorn), cwd=REPO_ROOT,
                                    env={**base_env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        running[key] = (proc, base_url)
        _wait_healthy(base_url, proc, log_path)
        return base_url

    yield start
    for proc, _ in running.values():
        proc.terminate()
    for proc, _ in running.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def opencv_service(start_service: Callable[..., str]) -> str:
    """Base URL of a service with the default ``opencv`` backend."""
    return start_service("--backend", "opencv", "--threads", "2")


def _const(name: str, values: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


def build_tiny_yolo(path: Path, *, layout: str = "v8", dynamic_batch: bool = True) -> Path:
    """Write an ONNX model with an Ultralytics output layout and known answers.

    Output ``B x 7 x 84`` (v8: cx, cy, w, h, 3 class scores; 84 = anchors of a 64x64
    input) or ``B x 252 x 8`` (v5: cx, cy, w, h, objectness, 3 class scores). Anchor ``i``
    of ``TINY_BOXES_CXCYWH`` scores ``TINY_WEIGHTS[i] * mean(channel c)`` for class ``c``
    (RGB, 0..1): a pure red tile yields class 0, green class 1, blue class 2, black
    nothing above 0.25 (only the grey letterbox padding contributes).
    """
    cells = sum((TINY_INPUT_SIDE_PX // s) ** 2 for s in (8, 16, 32))
    anchors = cells if layout == "v8" else 3 * cells
    boxes = np.zeros((1, 4, anchors), np.float32)
    weights = np.zeros((1, 1, anchors), np.float32)
    for i, (box, weight) in enumerate(zip(TINY_BOXES_CXCYWH, TINY_WEIGHTS, strict=True)):
        boxes[0, :, i], weights[0, 0, i] = box, weight
    batch = "batch" if dynamic_batch else 1
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean4"], axes=[2, 3], keepdims=1),
        helper.make_node("Squeeze", ["mean4", "axis3"], ["mean"]),  # B x 3 x 1
        helper.make_node("ReduceMean", ["mean"], ["mean1"], axes=[1], keepdims=1),  # B x 1 x 1
        helper.make_node("Mul", ["mean1", "zero"], ["batch_zero"]),
        helper.make_node("Add", ["boxes", "batch_zero"], ["batch_boxes"]),  # B x 4 x N
    ]
    if layout == "v8":
        nodes += [helper.make_node("Mul", ["mean", "weights"], ["scores"]),
                  helper.make_node("Concat", ["batch_boxes", "scores"], ["output0"], axis=1)]
        out_shape = [batch, 4 + TINY_NUM_CLASSES, anchors]
    else:
        nodes += [helper.make_node("Add", ["weights", "batch_zero"], ["objectness"]),
                  helper.make_node("Mul", ["mean", "ones"], ["scores"]),
                  helper.make_node("Concat", ["batch_boxes", "objectness", "scores"], ["raw"], axis=1),
                  helper.make_node("Transpose", ["raw"], ["output0"], perm=[0, 2, 1])]
        out_shape = [batch, anchors, 5 + TINY_NUM_CLASSES]
    initializers = [_const("boxes", boxes), _const("weights", weights), _const("zero", np.zeros(1)),
                    numpy_helper.from_array(np.array([3], np.int64), "axis3")]
    if layout == "v5":
        initializers.append(_const("ones", np.ones((1, 1, anchors))))
    side = TINY_INPUT_SIDE_PX
    graph = helper.make_graph(
        nodes, "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="session")
def vtest_frames() -> Callable[[list[int]], dict[int, np.ndarray]]:
    """``vtest_frames([400, 700]) -> {400: frame, ...}``; skips where vtest.avi is absent."""
    return read_frames


@pytest.fixture(scope="session")
def vtest_people() -> dict[int, list[tuple[int, int]]]:
    """Frame index -> points (pixels) on the people seen in that frame of vtest.avi."""
    return VTEST_PEOPLE_PX


@pytest.fixture(scope="session")
def shared_model_files() -> list[Path]:
    """Pretrained YOLO ONNX models of the shared data folder (empty where absent)."""
    return shared_models()


@pytest.fixture(scope="session")
def tiny_yolo(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``tiny_yolo(layout="v8", dynamic_batch=True) -> model path`` (see build_tiny_yolo)."""
    folder = tmp_path_factory.mktemp("tiny_yolo")

    def build(layout: str = "v8", dynamic_batch: bool = True) -> Path:
        path = folder / f"tiny-{layout}-{'dynamic' if dynamic_batch else 'static'}.onnx"
        return path if path.exists() else build_tiny_yolo(path, layout=layout, dynamic_batch=dynamic_batch)

    return build


@pytest.fixture(scope="session")
def astronaut_head() -> np.ndarray:
    """A 240x240 portrait with one frontal face at about (61, 61)-(166, 166); see data/README.md."""
    image = cv2.imread(str(TEST_DATA / "astronaut_head.jpg"))
    assert image is not None, "tests/detector/data/astronaut_head.jpg is missing"
    return image
