"""Publish the faces a watcher finds, for the WebSocket relay (``server.faces_ws``) to fan out.

One Redis channel per camera, ``hypersight:faces:<camera_id>``: the relay
subscribes to the pattern ``hypersight:faces:*`` and learns the camera from the
channel's name, so it can filter subscribers by camera and forward each message
as the bytes it received, without decoding ~50 KB of JSON per frame; and a later
relay (or any Redis client) can follow a single camera with a plain SUBSCRIBE.

Faces are live only: a message published while Redis is away is dropped (a
watcher must not stall or crash for a preview feature), and the outage is
logged once, with its recovery.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

log = logging.getLogger(__name__)

FACES_CHANNEL = "hypersight:faces"
FACES_PATTERN = FACES_CHANNEL + ":*"


def faces_channel(camera_id: int) -> str:
    """The channel of one camera's faces."""
    return f"{FACES_CHANNEL}:{camera_id}"


def camera_of(channel: str | bytes) -> int | None:
    """The camera id a faces channel is named after, or None for a name that is not one."""
    name = channel.decode() if isinstance(channel, bytes) else channel
    prefix, _, camera = name.rpartition(":")
    if prefix != FACES_CHANNEL or not camera.isdigit():
        return None
    return int(camera)


class _Outage:
    """Say once that Redis is unreachable, and once that it is back."""

    down = False


def publish_faces(redis_client: redis.Redis, message: dict[str, Any]) -> None:
    """JSON-encode one frame's faces and PUBLISH it on its camera's channel.

    ``message`` is the WebSocket message itself (DESIGN.md, "WebSocket protocol"):
    ``{"frame_ts", "container", "camera_id", "camera_url", "faces": [...]}``.
    Raises ValueError when ``camera_id`` is missing or not an integer (a bug in
    the caller); Redis errors are logged and the message is dropped.
    """
    camera_id = message.get("camera_id")
    if not isinstance(camera_id, int) or isinstance(camera_id, bool) or camera_id < 0:
        raise ValueError(f"a faces message needs an integer camera_id, got {camera_id!r}")
    payload = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    try:
        redis_client.publish(faces_channel(camera_id), payload)
    except redis.RedisError as exc:
        if not _Outage.down:
            _Outage.down = True
            log.warning("cannot publish faces (dropping them until Redis answers): %s", exc)
        return
    if _Outage.down:
        _Outage.down = False
        log.info("publishing faces again")
