"""Backend ``onnx``: any Ultralytics YOLO v5, v8 or v11 ONNX export, through ONNX Runtime.

Export a model with ``yolo export model=yolo11n.pt format=onnx`` (``dynamic=True`` lets
the tiles of a mosaic run as one batch). The output layout is read from the output
shape; tiles are letterboxed one by one to the model input, so a 3x3 mosaic does not
shrink people to a third of what the model can see. The CUDA provider is used where
ONNX Runtime has it, the CPU otherwise. COCO has no face class: ``/faces`` falls back to
the Haar cascade of OpenCV.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from detector_service.backends import yolo
from detector_service.backends.base import DetectorBackend
from detector_service.backends.haar import HaarFaceDetector
from detector_service.settings import ServiceSettings

logger = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def make_session(model_path: Path, threads: int) -> ort.InferenceSession:
    """An ONNX Runtime session on CUDA where available, else on the CPU."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    providers = [CPU_PROVIDER]
    if CUDA_PROVIDER in ort.get_available_providers():
        providers.insert(0, CUDA_PROVIDER)
    return ort.InferenceSession(str(model_path), sess_options=options, providers=providers)


def _metadata_imgsz(session: ort.InferenceSession) -> tuple[int, int] | None:
    """The ``imgsz`` Ultralytics writes into an export's metadata, if any."""
    raw = session.get_modelmeta().custom_metadata_map.get("imgsz")
    try:
        value = ast.literal_eval(raw) if raw else None
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, list | tuple) and len(value) == 2:
        return int(value[0]), int(value[1])
    return None


class OnnxBackend(DetectorBackend):
    """YOLO detection with batched tiles; Haar cascade for faces."""

    type_key = "onnx"

    def __init__(self, session: ort.InferenceSession, settings: ServiceSettings) -> None:
        self.settings = settings
        self.session = session
        model_input = session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_dtype = np.float16 if model_input.type == "tensor(float16)" else np.float32
        batch, _, height, width = model_input.shape
        self.batch_size = batch if isinstance(batch, int) else None
        if isinstance(height, int) and isinstance(width, int):
            self.input_hw = (height, width)
        else:
            self.input_hw = _metadata_imgsz(session) or (settings.imgsz, settings.imgsz)
        # One dry run reads the real output shape (axes are often symbolic) and warms up.
        probe = np.zeros((self.batch_size or 1, 3, *self.input_hw), dtype=self.input_dtype)
        output_shape = session.run(None, {self.input_name: probe})[0].shape
        self.layout = yolo.detect_layout(output_shape, self.input_hw)
        self._faces = HaarFaceDetector()
        logger.info("onnx model %s: input %s batch %s, layout %s, providers %s", settings.model,
                    self.input_hw, self.batch_size or "dynamic", self.layout, session.get_providers())

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> OnnxBackend:
        if not settings.model:
            raise ValueError("the onnx backend needs a model file (--model or HYPERSIGHT_DETECTOR_MODEL)")
        path = Path(settings.model)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        return cls(make_session(path, settings.threads), settings)

    def detect(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        if not tiles:
            return []
        boxed = [yolo.letterbox(tile, self.input_hw) for tile in tiles]
        preds = self._infer([image for image, _ in boxed])
        letterboxes = [box for _, box in boxed]
        return [self._postprocess(*args) for args in zip(preds, letterboxes, tiles, strict=True)]

    def _infer(self, images: list[np.ndarray]) -> np.ndarray:
        """Raw outputs of all images: one batch on a dynamic batch axis, else chunks of the fixed size."""
        chunk = self.batch_size or len(images)
        outputs = []
        for start in range(0, len(images), chunk):
            part = images[start : start + chunk]
            blob = yolo.to_blob(part, self.input_dtype)
            if len(part) < chunk:  # a fixed batch axis wants full batches
                blob = np.concatenate([blob, np.zeros((chunk - len(part), *blob.shape[1:]), blob.dtype)])
            outputs.append(self.session.run(None, {self.input_name: blob})[0][: len(part)])
        return np.concatenate(outputs)

    def _postprocess(self, pred: np.ndarray, box: yolo.Letterbox, tile: np.ndarray) -> np.ndarray:
        s = self.settings
        boxes, scores, class_ids = yolo.decode(pred, self.layout, s.score_threshold, s.classes)
        keep = yolo.nms_xyxy(boxes, scores, class_ids, s.nms_iou)
        rel = yolo.unletterbox_rel(boxes[keep], box, (tile.shape[1], tile.shape[0]))
        return np.column_stack([rel, scores[keep], class_ids[keep]]).astype(np.float64)

    def detect_faces(self, image: np.ndarray) -> np.ndarray:
        return self._faces.detect(image)

    def info(self) -> dict[str, Any]:
        providers = self.session.get_providers()
        return {
            "backend": self.type_key,
            "model": Path(self.settings.model or "").name,
            "device": "cuda" if providers[0] == CUDA_PROVIDER else "cpu",
            "providers": providers,
            "input": list(self.input_hw),
            "batch": self.batch_size or "dynamic",
            "layout": self.layout.kind,
            "num_classes": self.layout.num_classes,
            "faces": f"{HaarFaceDetector.describe()}: fallback, YOLO COCO models have no face class",
        }
