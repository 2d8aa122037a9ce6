"""Request checks of the service (pure): JPEG header, decoding limits, X-Grid, settings."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest

from detector_service.backends import backend_class
from detector_service.imaging import BadImage, decode_jpeg, jpeg_size, parse_grid
from detector_service.settings import ServiceSettings, settings_from_env


def jpeg(width_px: int, height_px: int) -> bytes:
    return cv2.imencode(".jpg", np.zeros((height_px, width_px, 3), np.uint8))[1].tobytes()


def with_declared_size(data: bytes, width_px: int, height_px: int) -> bytes:
    """A JPEG whose frame header claims another size: a decompression bomb in miniature."""
    sof = data.index(b"\xff\xc0")
    patched = bytearray(data)
    patched[sof + 5 : sof + 9] = height_px.to_bytes(2, "big") + width_px.to_bytes(2, "big")
    return bytes(patched)


@pytest.mark.parametrize(
    ("data", "size", "expectation"),
    [
        (jpeg(64, 48), (64, 48), does_not_raise()),
        (jpeg(1, 1), (1, 1), does_not_raise()),
        (with_declared_size(jpeg(8, 8), 60000, 50000), (60000, 50000), does_not_raise()),
        (b"\x89PNG\r\n\x1a\n", None, pytest.raises(BadImage, match="not a JPEG")),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None, pytest.raises(BadImage, match="no frame header")),
        (b"\xff\xd8\x00\x00\x00\x00\x00", None, pytest.raises(BadImage, match="expected a marker")),
    ],
)
def test_jpeg_size(data, size, expectation) -> None:
    with expectation:
        assert jpeg_size(data) == size


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 400),
        (b"hello", 400),
        (with_declared_size(jpeg(8, 8), 60000, 50000), 413),
        (with_declared_size(jpeg(8, 8), 0, 8), 400),
        (jpeg(64, 48)[:200] + b"\x00" * 10, 400),
    ],
)
def test_decode_jpeg_refuses(data, status) -> None:
    with pytest.raises(BadImage) as caught:
        decode_jpeg(data, max_pixels=50_000_000)
    assert caught.value.status == status


def test_decode_jpeg() -> None:
    assert decode_jpeg(jpeg(64, 48), max_pixels=64 * 48).shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("header", "grid", "expectation"),
    [
        (None, (1, 1), does_not_raise()),
        ("2x3", (2, 3), does_not_raise()),
        (" 3X3 ", (3, 3), does_not_raise()),
        ("3", None, pytest.raises(BadImage, match="rows x cols")),
        ("2x", None, pytest.raises(BadImage, match="rows x cols")),
        ("axb", None, pytest.raises(BadImage, match="rows x cols")),
        ("0x2", None, pytest.raises(BadImage, match=r"within 1\.\.8")),
        ("9x1", None, pytest.raises(BadImage, match=r"within 1\.\.8")),
    ],
)
def test_parse_grid(header, grid, expectation) -> None:
    with expectation:
        assert parse_grid(header, max_side=8) == grid


@pytest.mark.parametrize(
    ("environ", "expected", "expectation"),
    [
        ({}, ServiceSettings(), does_not_raise()),
        ({"HYPERSIGHT_DETECTOR_BACKEND": "onnx", "HYPERSIGHT_DETECTOR_MODEL": "m.onnx",
          "HYPERSIGHT_DETECTOR_CLASSES": "0, 2", "HYPERSIGHT_DETECTOR_SCORE_THRESHOLD": "0.4"},
         ServiceSettings(backend="onnx", model="m.onnx", classes=(0, 2), score_threshold=0.4), does_not_raise()),
        ({"HYPERSIGHT_DETECTOR_IMGSZ": "big"}, None, pytest.raises(ValueError, match="HYPERSIGHT_DETECTOR_IMGSZ")),
        ({"HYPERSIGHT_DETECTOR_SCORE_THRESHOLD": "2"}, None, pytest.raises(ValueError, match="score_threshold")),
    ],
)
def test_settings_from_env(environ, expected, expectation) -> None:
    with expectation:
        assert settings_from_env(environ) == expected


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: onnx, opencv"):
        backend_class("tensorrt")
