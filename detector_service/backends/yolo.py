"""Pure pre- and post-processing of Ultralytics YOLO models (v5, v8, v11), in numpy.

Kept apart from ONNX Runtime so that letterboxing, output decoding and NMS can be
table-tested on arrays. Output layouts of an ``nms=False`` export:

* v8 / v11 (and v5u): ``B x (4 + nc) x N``: cx, cy, w, h in input pixels, then one
  probability per class;
* v5: ``B x N x (5 + nc)``: cx, cy, w, h, objectness, then class probabilities
  (score = objectness x class probability).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

LETTERBOX_FILL = 114
"""Ultralytics pads with grey 114, the colour its models were trained with."""
STRIDES_PX = (8, 16, 32)
MAX_CANDIDATES = 30_000
MAX_DETECTIONS = 300


@dataclass(frozen=True)
class Layout:
    """How to read a model's output: ``kind`` ``v8`` or ``v5`` and the number of classes."""

    kind: Literal["v8", "v5"]
    num_classes: int


def grid_cells(input_hw: tuple[int, int]) -> int:
    """Anchor points of a YOLO head over strides 8, 16, 32 (8400 at 640x640)."""
    return sum((input_hw[0] // s) * (input_hw[1] // s) for s in STRIDES_PX)


def detect_layout(output_shape: tuple[int, ...], input_hw: tuple[int, int]) -> Layout:
    """Guess the layout from the output shape (batch, a, b) and the input size.

    v8 has one prediction per grid cell on the last axis; v5 has three anchors per
    cell on the middle axis. Where neither count matches (an unusual head), the shorter
    axis is taken as the attribute axis.

    Raises:
        ValueError: not a 3-axis output or too few attributes for any layout.
    """
    if len(output_shape) != 3:
        raise ValueError(f"expected a YOLO output of shape (batch, a, b), got {output_shape}")
    _, dim1, dim2 = (int(d) for d in output_shape)
    cells = grid_cells(input_hw)
    if dim2 == cells and dim1 > 4:
        return Layout("v8", dim1 - 4)
    if dim1 == 3 * cells and dim2 > 5:
        return Layout("v5", dim2 - 5)
    if dim1 < dim2 and dim1 > 4:
        return Layout("v8", dim1 - 4)
    if dim2 > 5:
        return Layout("v5", dim2 - 5)
    raise ValueError(f"cannot read a YOLO output of shape {output_shape}")


@dataclass(frozen=True)
class Letterbox:
    """How a tile was fitted into the model input: ``input = tile * scale + pad``."""

    scale: float
    pad_x_px: float
    pad_y_px: float


def letterbox(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad to ``input_hw``, centred (Ultralytics' way)."""
    height_px, width_px = image.shape[:2]
    scale = min(input_hw[0] / height_px, input_hw[1] / width_px)
    new_w, new_h = max(1, round(width_px * scale)), max(1, round(height_px * scale))
    resized = image if (new_w, new_h) == (width_px, height_px) else cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (input_hw[1] - new_w) / 2, (input_hw[0] - new_h) / 2
    left, top = round(pad_x - 0.1), round(pad_y - 0.1)
    out = cv2.copyMakeBorder(resized, top, input_hw[0] - new_h - top, left, input_hw[1] - new_w - left,
                             cv2.BORDER_CONSTANT, value=(LETTERBOX_FILL,) * 3)
    return out, Letterbox(scale, float(left), float(top))


def to_blob(images: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Letterboxed BGR uint8 images -> ``B x 3 x H x W`` RGB in 0..1."""
    batch = np.stack(images)[..., ::-1].transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=dtype) / np.array(255, dtype=dtype)


def decode(pred: np.ndarray, layout: Layout, score_threshold: float,
           classes: tuple[int, ...] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's raw output -> (boxes x1y1x2y2 in input pixels, scores, class ids), thresholded."""
    rows = pred.T if layout.kind == "v8" else pred
    rows = rows.astype(np.float32, copy=False)
    class_probs = rows[:, 4:] if layout.kind == "v8" else rows[:, 5:] * rows[:, 4:5]
    if classes is not None:
        masked = np.full_like(class_probs, -1.0)
        wanted = [c for c in classes if c < class_probs.shape[1]]
        masked[:, wanted] = class_probs[:, wanted]
        class_probs = masked
    class_ids = class_probs.argmax(axis=1)
    scores = class_probs[np.arange(len(rows)), class_ids]
    keep = np.flatnonzero(scores > score_threshold)
    if len(keep) > MAX_CANDIDATES:
        keep = keep[np.argsort(-scores[keep])[:MAX_CANDIDATES]]
    cx, cy, w, h = (rows[keep, i] for i in range(4))
    boxes = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    return boxes, scores[keep], class_ids[keep]


def _intersection_area(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Area shared by one x1y1x2y2 box and each of ``others``."""
    inter_w = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    inter_h = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    return np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)


def nms_xyxy(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, threshold: float,
             metric: Literal["iou", "ios"] = "iou", max_keep: int = MAX_DETECTIONS) -> np.ndarray:
    """Greedy per-class non-maximum suppression; indices kept, best first.

    ``metric="iou"`` drops a box whose intersection over union with a better box of its
    class exceeds ``threshold``; ``"ios"`` uses intersection over the smaller box, which
    also drops a box nested inside a better one (HOG's torso inside a person).
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size and len(keep) < max_keep:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        inter = _intersection_area(boxes[best], boxes[rest])
        if metric == "iou":
            overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        else:
            overlap = inter / np.maximum(np.minimum(areas[best], areas[rest]), 1e-9)
        same_class = np.asarray(class_ids)[rest] == class_ids[best]
        order = rest[~((overlap > threshold) & same_class)]
    return np.array(keep, dtype=int)


def unletterbox_rel(boxes_input_px: np.ndarray, box: Letterbox, tile_wh: tuple[int, int]) -> np.ndarray:
    """Boxes in model-input pixels -> boxes relative (0..1) to the original tile, clipped."""
    width_px, height_px = tile_wh
    out = np.asarray(boxes_input_px, dtype=np.float64).reshape(-1, 4).copy()
    out[:, [0, 2]] = np.clip((out[:, [0, 2]] - box.pad_x_px) / box.scale, 0, width_px) / width_px
    out[:, [1, 3]] = np.clip((out[:, [1, 3]] - box.pad_y_px) / box.scale, 0, height_px) / height_px
    return out
