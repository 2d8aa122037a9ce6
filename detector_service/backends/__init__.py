"""The registry of detector backends: name -> class, imported only when chosen.

Lazy imports keep ``--backend opencv`` from loading ONNX Runtime, and let a deployment
add a backend with one file and one line here.
"""

from __future__ import annotations

import importlib

from detector_service.backends.base import DetectorBackend
from detector_service.settings import ServiceSettings

BACKENDS: dict[str, str] = {
    "opencv": "detector_service.backends.opencv:OpenCVBackend",
    "onnx": "detector_service.backends.onnx:OnnxBackend",
}


def backend_class(name: str) -> type[DetectorBackend]:
    """The backend class registered under ``name``.

    Raises:
        ValueError: an unknown name, listing the known ones.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown detector backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    module_name, class_name = BACKENDS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert cls.type_key == name, f"{cls} registered as {name!r} but declares {cls.type_key!r}"
    return cls


def create_backend(settings: ServiceSettings) -> DetectorBackend:
    """Build the backend that the settings name."""
    return backend_class(settings.backend).from_settings(settings)
