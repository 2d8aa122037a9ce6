"""Reading a JPEG's size from its header, without decoding a pixel.

Shared by the detector service (to refuse a giant image before decoding it) and
the web app (to remember a camera's frame size for the zone editor).
"""

from __future__ import annotations

# Start-of-frame markers (not DHT 0xC4, JPG 0xC8, DAC 0xCC, which share the range).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: RSTn, SOI, EOI, TEM.
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD9)) | {0x01}


class JpegError(ValueError):
    """Not a JPEG, or no frame header before the data ends."""


def jpeg_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` read from a JPEG's start-of-frame segment.

    Examples:
        >>> jpeg_size(bytes.fromhex("ffd8ffc0000b08007800a0"))
        (160, 120)
    """
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise JpegError("the body is not a JPEG image (no FFD8 start marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise JpegError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF_MARKERS and pos + 9 <= len(data):
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return width, height
        pos += 2 + length
    raise JpegError("corrupt JPEG: no frame header found")
