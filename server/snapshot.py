"""One still frame of a camera, as JPEG, for the admin's zone editor and "test connection".

The admin draws zones on the camera's current picture, so the web process
needs a frame without running a watcher: one short-lived ffmpeg reads the
stream (HLS, RTSP, RTMP, HTTP or a file) and writes one MJPEG frame to its
stdout. The frame's size is remembered in Redis, so that while a camera is
offline zones can still be drawn on an empty canvas of the right shape.
"""

from __future__ import annotations

import logging
import subprocess

import redis

log = logging.getLogger(__name__)

# Extra seconds granted to ffmpeg beyond its own I/O timeout before it is killed:
# opening a stream can take a few requests (HLS playlist, then a segment).
KILL_GRACE_S = 3.0
DEFAULT_SIZE = (1280, 720)  # 16:9, for a camera never seen
SIZE_KEY = "hypersight:camera:{camera_id}:size"
# JPEG start-of-frame markers (baseline, extended, progressive, lossless...) that carry the size.


class SnapshotError(RuntimeError):
    """No frame could be read; the message says why (ffmpeg's own words where it gave any)."""


def ffmpeg_command(stream_url: str, timeout_s: float) -> list[str]:
    """The ffmpeg command line that writes one JPEG frame of ``stream_url`` to stdout.

    RTSP goes over TCP (UDP through NAT often yields no packets at all); network
    reads give up after ``timeout_s`` so that a dead camera fails fast.
    """
    timeout_us = str(int(timeout_s * 1_000_000))
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"]
    if stream_url.isdigit():  # a webcam by its index, as the watcher's segmenter reads it
        command += ["-f", "v4l2"]
        stream_url = f"/dev/video{stream_url}"
    elif stream_url.lower().startswith(("rtsp://", "rtsps://")):
        command += ["-rtsp_transport", "tcp", "-timeout", timeout_us]
    elif "://" in stream_url:
        command += ["-rw_timeout", timeout_us]
    return [*command, "-i", stream_url, "-an", "-frames:v", "1", "-f", "image2pipe", "-vcodec", "mjpeg",
            "-q:v", "3", "pipe:1"]


def grab_frame(stream_url: str, timeout_s: float = 10.0) -> bytes:
    """One frame of the stream as JPEG bytes; raises SnapshotError when none comes in time."""
    command = ffmpeg_command(stream_url, timeout_s)
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout_s + KILL_GRACE_S, check=False)
    except subprocess.TimeoutExpired:
        raise SnapshotError(f"no frame within {timeout_s:.0f} s") from None
    except FileNotFoundError:
        raise SnapshotError("ffmpeg is not installed") from None
    if result.returncode != 0 or not result.stdout.startswith(b"\xff\xd8"):
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        raise SnapshotError(reason[-1] if reason else f"ffmpeg exited with {result.returncode} and no frame")
    return result.stdout


def remember_size(client: redis.Redis, camera_id: int, size: tuple[int, int]) -> None:
    """Keep the last size seen; a Redis outage only costs the offline canvas its shape."""
    try:
        client.set(SIZE_KEY.format(camera_id=camera_id), f"{size[0]}x{size[1]}")
    except redis.RedisError as exc:
        log.warning("camera %s: could not remember the frame size: %s", camera_id, exc)


def last_size(client: redis.Redis, camera_id: int) -> tuple[int, int] | None:
    """The frame size last seen for the camera, or None if never seen (or Redis is down)."""
    try:
        raw = client.get(SIZE_KEY.format(camera_id=camera_id))
    except redis.RedisError as exc:
        log.warning("camera %s: could not read the last frame size: %s", camera_id, exc)
        return None
    if not raw:
        return None
    width, _, height = (raw.decode() if isinstance(raw, bytes) else raw).partition("x")
    if not (width.isdigit() and height.isdigit()) or int(width) == 0 or int(height) == 0:
        return None
    return int(width), int(height)


def forget_size(client: redis.Redis, camera_id: int) -> None:
    """Drop the size of a deleted camera (its id may be reused by a different camera)."""
    try:
        client.delete(SIZE_KEY.format(camera_id=camera_id))
    except redis.RedisError as exc:
        log.warning("camera %s: could not forget the frame size: %s", camera_id, exc)
