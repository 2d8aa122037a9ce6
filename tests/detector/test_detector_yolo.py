"""YOLO pre/post-processing on arrays: layouts, letterbox, decoding, NMS, mapping back."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from detector_service.backends.yolo import (
    Layout,
    Letterbox,
    decode,
    detect_layout,
    grid_cells,
    letterbox,
    nms_xyxy,
    to_blob,
    unletterbox_rel,
)


@pytest.mark.parametrize(
    ("output_shape", "input_hw", "layout", "expectation"),
    [
        ((1, 84, 8400), (640, 640), Layout("v8", 80), does_not_raise()),
        ((1, 84, 2100), (320, 320), Layout("v8", 80), does_not_raise()),
        ((1, 25200, 85), (640, 640), Layout("v5", 80), does_not_raise()),
        ((4, 6, 84), (64, 64), Layout("v8", 2), does_not_raise()),
        ((1, 252, 8), (64, 64), Layout("v5", 3), does_not_raise()),
        ((1, 5, 100), (64, 64), Layout("v8", 1), does_not_raise()),  # no count matches: short axis
        ((1, 100, 7), (64, 64), Layout("v5", 2), does_not_raise()),
        ((1, 84), (640, 640), None, pytest.raises(ValueError, match="batch, a, b")),
        ((1, 4, 3), (640, 640), None, pytest.raises(ValueError, match="cannot read")),
    ],
)
def test_detect_layout(output_shape, input_hw, layout, expectation) -> None:
    with expectation:
        assert detect_layout(output_shape, input_hw) == layout


def test_grid_cells_of_a_640_input() -> None:
    assert grid_cells((640, 640)) == 8400


@pytest.mark.parametrize(
    ("image_hw", "input_hw", "scale", "pad_xy"),
    [
        ((96, 128), (64, 64), 0.5, (0, 8)),
        ((576, 768), (640, 640), 640 / 768, (0, 80)),
        ((100, 50), (64, 64), 0.64, (16, 0)),
        ((64, 64), (64, 64), 1.0, (0, 0)),
    ],
)
def test_letterbox(image_hw, input_hw, scale, pad_xy) -> None:
    image = np.full((*image_hw, 3), 255, np.uint8)
    out, box = letterbox(image, input_hw)
    assert out.shape == (*input_hw, 3)
    assert box == Letterbox(pytest.approx(scale), *pad_xy)
    pad_x, pad_y = pad_xy
    assert out[pad_y, pad_x].tolist() == [255, 255, 255]
    if pad_y:
        assert out[0, input_hw[1] // 2].tolist() == [114, 114, 114]


def test_to_blob_is_rgb_chw_in_unit_range() -> None:
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 2] = 255  # red
    blob = to_blob([bgr], np.float32)
    assert blob.shape == (1, 3, 2, 2)
    assert blob[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]


def v8_pred(rows: list[list[float]]) -> np.ndarray:
    """Rows of cx, cy, w, h, class probabilities -> the v8 (4 + nc) x N array."""
    return np.array(rows, dtype=np.float32).T


@pytest.mark.parametrize(
    ("pred", "layout", "classes", "boxes", "scores", "class_ids"),
    [
        (v8_pred([[10, 10, 4, 6, 0.9, 0.1], [20, 20, 2, 2, 0.1, 0.2]]), Layout("v8", 2), None,
         [[8, 7, 12, 13]], [0.9], [0]),
        (v8_pred([[10, 10, 4, 6, 0.3, 0.8]]), Layout("v8", 2), None, [[8, 7, 12, 13]], [0.8], [1]),
        (v8_pred([[10, 10, 4, 6, 0.3, 0.8]]), Layout("v8", 2), (0,), [[8, 7, 12, 13]], [0.3], [0]),
        (v8_pred([[10, 10, 4, 6, 0.9, 0.8]]), Layout("v8", 2), (5,), [], [], []),
        (np.array([[10, 10, 4, 6, 0.5, 0.9, 0.1]], np.float32), Layout("v5", 2), None,
         [[8, 7, 12, 13]], [0.45], [0]),
        (np.array([[10, 10, 4, 6, 0.2, 0.9, 0.1]], np.float16), Layout("v5", 2), None, [], [], []),
    ],
)
def test_decode(pred, layout, classes, boxes, scores, class_ids) -> None:
    got_boxes, got_scores, got_ids = decode(pred, layout, 0.25, classes)
    np.testing.assert_allclose(got_boxes, np.array(boxes, dtype=float).reshape(-1, 4))
    np.testing.assert_allclose(got_scores, scores, rtol=1e-3)
    assert got_ids.tolist() == class_ids


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "metric", "kept"),
    [
        ([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], [0.9, 0.8, 0.7], [0, 0, 0], "iou", [0, 2]),
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.8, 0.9], [0, 0], "iou", [1]),
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], [0, 1], "iou", [0, 1]),  # other class kept
        ([[0, 0, 10, 10], [6, 0, 16, 10]], [0.9, 0.8], [0, 0], "iou", [0, 1]),  # IoU 0.25
        ([[0, 0, 10, 20], [2, 2, 8, 8]], [0.9, 0.5], [0, 0], "iou", [0, 1]),  # nested, IoU 0.18
        ([[0, 0, 10, 20], [2, 2, 8, 8]], [0.9, 0.5], [0, 0], "ios", [0]),  # nested: dropped
        ([], [], [], "iou", []),
    ],
)
def test_nms_xyxy(boxes, scores, classes, metric, kept) -> None:
    keep = nms_xyxy(np.array(boxes, float).reshape(-1, 4), np.array(scores), np.array(classes), 0.45, metric)
    assert keep.tolist() == kept


@pytest.mark.parametrize(
    ("box_input_px", "letterboxed", "tile_wh", "box_rel"),
    [
        ([22, 24, 42, 40], Letterbox(0.5, 0, 8), (128, 96), [44 / 128, 32 / 96, 84 / 128, 64 / 96]),
        ([0, 0, 64, 64], Letterbox(0.5, 0, 8), (128, 96), [0, 0, 1, 1]),  # padding clipped away
        ([100, 80, 200, 560], Letterbox(640 / 768, 0, 80), (768, 576), [0.15625, 0, 0.3125, 1]),
    ],
)
def test_unletterbox_rel(box_input_px, letterboxed, tile_wh, box_rel) -> None:
    np.testing.assert_allclose(unletterbox_rel(np.array([box_input_px], float), letterboxed, tile_wh)[0], box_rel)
