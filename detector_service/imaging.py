"""Checks and decoding of posted images, before any pixel is decoded where possible.

A request must never bring the service down: the JPEG header gives the image size, so
a decompression bomb (a small file declaring a giant image) is refused before
OpenCV allocates its pixels.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from detector_client import jpeg

_GRID_RE = re.compile(r"^\s*(\d{1,3})\s*[xX]\s*(\d{1,3})\s*$")


class BadImage(ValueError):
    """The body is not an acceptable JPEG; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def jpeg_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from the JPEG header; BadImage (400) for anything that is not one."""
    try:
        return jpeg.jpeg_size(data)
    except jpeg.JpegError as exc:
        raise BadImage(str(exc)) from None


def decode_jpeg(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode a JPEG body into a BGR array, refusing empty, non-JPEG or giant images.

    Raises:
        BadImage: 400 for an empty, non-JPEG or undecodable body; 413 for an image
            larger than ``max_pixels``.
    """
    if not data:
        raise BadImage("empty body: POST a JPEG image")
    width, height = jpeg_size(data)
    if width == 0 or height == 0:
        raise BadImage(f"JPEG declares an empty image ({width}x{height})")
    if width * height > max_pixels:
        raise BadImage(f"image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels", 413)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadImage("the JPEG could not be decoded")
    return image


def parse_grid(header: str | None, max_side: int) -> tuple[int, int]:
    """``X-Grid: <rows>x<cols>`` -> ``(rows, cols)``; absent -> ``(1, 1)``.

    Raises:
        BadImage: a malformed header or a side outside 1..max_side.
    """
    if header is None:
        return 1, 1
    match = _GRID_RE.match(header)
    if not match:
        raise BadImage(f"X-Grid must look like '2x3' (rows x cols), got {header[:40]!r}")
    rows, cols = int(match.group(1)), int(match.group(2))
    if not (1 <= rows <= max_side and 1 <= cols <= max_side):
        raise BadImage(f"X-Grid sides must be within 1..{max_side}, got {rows}x{cols}")
    return rows, cols
