"""Settings of the detector service, from arguments or ``HYPERSIGHT_DETECTOR_*`` variables.

The service is its own process (often on its own GPU machine), so unlike the rest of
hypersight it does not read instance/config.py; ``python -m detector_service`` flags and
the environment (for ``gunicorn 'detector_service:create_app()'``) are enough.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

ENV_PREFIX = "HYPERSIGHT_DETECTOR_"


@dataclass(frozen=True)
class ServiceSettings:
    """Everything a backend and the HTTP layer need; each field is ``HYPERSIGHT_DETECTOR_<NAME>``.

    Attributes:
        backend: registered backend name (``opencv`` or ``onnx``).
        model: ONNX model file (``onnx`` backend).
        score_threshold: drop detections below this score (0..1).
        nms_iou: IoU above which the weaker of two same-class boxes is dropped.
        classes: class ids to keep (None: all).
        imgsz: model input side for models with a dynamic input size.
        threads: CPU threads of the backend (0: library default).
        hog_upscale: the ``opencv`` backend enlarges tiles by this factor so that people
            smaller than HOG's 64x128 window are found (1.5 finds most people of vtest.avi).
        max_body_bytes: larger request bodies get a 413.
        max_pixels: larger images get a 413 before they are decoded.
        max_grid_side: the largest rows or cols accepted in ``X-Grid``.
    """

    backend: str = "opencv"
    model: str | None = None
    score_threshold: float = 0.25
    nms_iou: float = 0.45
    classes: tuple[int, ...] | None = None
    imgsz: int = 640
    threads: int = 0
    hog_upscale: float = 1.5
    max_body_bytes: int = 32 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_grid_side: int = 8

    def __post_init__(self) -> None:
        if not 0.0 <= self.score_threshold <= 1.0 or not 0.0 < self.nms_iou <= 1.0:
            raise ValueError("score_threshold must be within 0..1 and nms_iou within (0, 1]")
        if self.imgsz < 32 or self.threads < 0 or self.hog_upscale <= 0:
            raise ValueError("imgsz must be >= 32, threads >= 0 and hog_upscale > 0")

    def with_overrides(self, **overrides: Any) -> ServiceSettings:
        """A copy with the non-None overrides applied (unknown names raise TypeError)."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})


def parse_classes(text: str | None) -> tuple[int, ...] | None:
    """``"0,2"`` -> ``(0, 2)``; empty -> None (all classes)."""
    if not text or not text.strip():
        return None
    return tuple(int(part) for part in text.split(",") if part.strip())


def _convert(name: str, raw: str) -> Any:
    if name == "classes":
        return parse_classes(raw)
    if name == "model":
        return raw or None
    kind = {f.name: f.default for f in fields(ServiceSettings)}[name]
    return type(kind)(raw)


def settings_from_env(environ: Mapping[str, str]) -> ServiceSettings:
    """Settings from ``HYPERSIGHT_DETECTOR_<FIELD>`` variables; others keep their defaults.

    Raises:
        ValueError: a variable that does not parse, naming it.
    """
    values: dict[str, Any] = {}
    for field in fields(ServiceSettings):
        key = ENV_PREFIX + field.name.upper()
        if key in environ:
            try:
                values[field.name] = _convert(field.name, environ[key])
            except ValueError as exc:
                raise ValueError(f"{key}={environ[key]!r}: {exc}") from exc
    return ServiceSettings(**values)
