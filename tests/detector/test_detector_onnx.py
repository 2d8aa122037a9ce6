"""The ``onnx`` backend over real HTTP: a tiny model with known answers, and the shared YOLO models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from detector_client import ObjectDetectorClient
from detector_service.backends.onnx import OnnxBackend
from detector_service.settings import ServiceSettings

# The tiny model (conftest.build_tiny_yolo) on a 128x96 tile: letterboxed to 64x48 in its
# 64x64 input (scale 0.5, 8 px of grey above and below). Its anchors, in input pixels:
#   0: x 22..42, y 24..40, weight 1.0  -> tile x 44..84, y 32..64
#   1: x 23..43, y 25..41, weight 0.9  -> IoU 0.80 with anchor 0: removed by NMS
#   2: x 8..16,  y 15..25, weight 0.8  -> tile x 16..32, y 14..34
# A tile of one pure colour has that channel's mean at 0.75 * 1 + 0.25 * 114/255 = 0.862
# (3/4 of the input is the tile), the other channels 0.112 (the padding): below 0.25.
TILE_WH = (128, 96)
EXPECTED_TILE_BOXES = [(44 / 128, 32 / 96, 84 / 128, 64 / 96), (16 / 128, 14 / 96, 32 / 128, 34 / 96)]
EXPECTED_SCORES = [0.862, 0.8 * 0.862]
BGR_OF_CLASS = {0: (0, 0, 255), 1: (0, 255, 0), 2: (255, 0, 0)}  # the model reads RGB: red is class 0


def coloured_frames() -> list[np.ndarray]:
    return [np.full((TILE_WH[1], TILE_WH[0], 3), BGR_OF_CLASS[c], np.uint8) for c in range(3)]


TINY_VARIANTS = {"v8-dynamic-batch": ("v8", True), "v8-batch-1": ("v8", False), "v5-dynamic-batch": ("v5", True)}


@pytest.fixture(scope="module", params=list(TINY_VARIANTS))
def tiny_service(request, start_service, tiny_yolo) -> str:
    layout, dynamic = TINY_VARIANTS[request.param]
    return start_service("--backend", "onnx", "--model", str(tiny_yolo(layout, dynamic)), "--threads", "1")


def test_tiny_model_health_reports_its_layout(tiny_service: str, request) -> None:
    layout, dynamic = TINY_VARIANTS[request.node.callspec.params["tiny_service"]]
    health = requests.get(f"{tiny_service}/health", timeout=5).json()
    assert health["backend"] == "onnx"
    assert health["device"] == "cpu"
    assert (health["layout"], health["num_classes"]) == (layout, 3)
    assert health["batch"] == ("dynamic" if dynamic else 1)
    assert "haar" in health["faces"] and "fallback" in health["faces"]


def test_tiny_model_through_a_2x2_mosaic(tiny_service: str) -> None:
    """Three coloured frames and one black padding tile: decoding, NMS and coordinate mapping."""
    per_frame = ObjectDetectorClient(f"{tiny_service}/detect").detect(coloured_frames(), (2, 2))
    assert len(per_frame) == 3
    for class_id, dets in enumerate(per_frame):
        assert [d.class_id for d in dets] == [class_id, class_id], dets
        for det, box, score in zip(dets, EXPECTED_TILE_BOXES, EXPECTED_SCORES, strict=True):
            np.testing.assert_allclose(det.box, box, atol=1e-3)
            assert det.score == pytest.approx(score, abs=0.04)


def test_tiny_model_answers_in_whole_mosaic_coordinates(tiny_service: str) -> None:
    mosaic = np.zeros((2 * TILE_WH[1], 2 * TILE_WH[0], 3), np.uint8)
    mosaic[TILE_WH[1]:, TILE_WH[0]:] = BGR_OF_CLASS[2]  # only the bottom-right tile holds anything
    body = cv2.imencode(".jpg", mosaic, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    rows = requests.post(f"{tiny_service}/detect", data=body, headers={"X-Grid": "2x2"}, timeout=10).json()
    assert len(rows) == 2
    x1, y1, x2, y2 = EXPECTED_TILE_BOXES[0]
    np.testing.assert_allclose(rows[0][:4], [(x1 + 1) / 2, (y1 + 1) / 2, (x2 + 1) / 2, (y2 + 1) / 2], atol=1e-3)
    assert rows[0][5] == 2


def test_gunicorn_runs_the_app_factory_with_settings_from_env(start_service, tiny_yolo) -> None:
    env = {"HYPERSIGHT_DETECTOR_BACKEND": "onnx", "HYPERSIGHT_DETECTOR_MODEL": str(tiny_yolo("v8", True)),
           "HYPERSIGHT_DETECTOR_CLASSES": "0", "HYPERSIGHT_DETECTOR_THREADS": "1"}
    url = start_service(env=env, gunicorn=True)
    assert requests.get(f"{url}/health", timeout=5).json()["backend"] == "onnx"
    per_frame = ObjectDetectorClient(f"{url}/detect").detect(coloured_frames(), (2, 2))
    assert [[d.class_id for d in dets] for dets in per_frame] == [[0, 0], [], []]


def test_class_filter_keeps_only_the_wanted_classes(tiny_yolo) -> None:
    settings = ServiceSettings(backend="onnx", model=str(tiny_yolo("v8", True)), classes=(1,))
    per_tile = OnnxBackend.from_settings(settings).detect(coloured_frames())
    assert [tile[:, 5].tolist() for tile in per_tile] == [[], [1.0, 1.0], []]


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        OnnxBackend.from_settings(ServiceSettings(backend="onnx", model=str(tmp_path / "none.onnx")))


def people_found(dets, people_px, frame_wh=(768, 576)) -> int:
    persons = [d for d in dets if d.class_id == 0]
    return sum(
        any(d.box[0] <= x / frame_wh[0] <= d.box[2] and d.box[1] <= y / frame_wh[1] <= d.box[3] for d in persons)
        for x, y in people_px
    )


def test_shared_yolo_models_find_the_3_people_of_frame_400(start_service, shared_model_files, vtest_frames,
                                                          vtest_people) -> None:
    if not shared_model_files:
        pytest.skip("no shared YOLO models in ../shared/data/models (they are test data, not part of the repo)")
    frame = vtest_frames([400])[400]
    for model in shared_model_files:
        url = start_service("--backend", "onnx", "--model", str(model), "--threads", "2")
        (dets,) = ObjectDetectorClient(f"{url}/detect").detect([frame], (1, 1))
        confident_people = [d for d in dets if d.class_id == 0 and d.score >= 0.5]
        assert people_found(dets, vtest_people[400]) == 3, (model.name, dets)
        assert len(confident_people) == 3, (model.name, confident_people)


def test_yolo_through_a_2x2_mosaic_keeps_finding_people(start_service, shared_model_files, vtest_frames,
                                                        vtest_people) -> None:
    """Tiles are inferred one by one at the model's input size, so a mosaic does not shrink people."""
    model = next((m for m in shared_model_files if m.name.startswith("yolo11n")), None)
    if model is None:
        pytest.skip("the shared yolo11n model is absent from ../shared/data/models")
    indices = [100, 250, 550, 700]
    frames = vtest_frames(indices)
    url = start_service("--backend", "onnx", "--model", str(model), "--threads", "2")
    per_frame = ObjectDetectorClient(f"{url}/detect").detect([frames[i] for i in indices], (2, 2))
    found = {i: people_found(dets, vtest_people[i]) for i, dets in zip(indices, per_frame, strict=True)}
    total = sum(len(vtest_people[i]) for i in indices)
    assert sum(found.values()) >= 0.7 * total, found
