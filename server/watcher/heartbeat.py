"""The watcher lease, whose value is also its heartbeat.

One Redis key per camera, ``hypersight:watcher:<camera_id>``, taken with SET NX
and a TTL by the watcher that owns the camera and rewritten every loop. Readers
(``/statusWatch``, the admin pages, ``ensure_watchers``) need nothing else: a
key that exists is a live watcher, and its JSON says what it is doing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum

log = logging.getLogger(__name__)

KEY_PREFIX = "hypersight:watcher:"


class WatcherState(StrEnum):
    STARTING = "starting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    DETECTOR_DOWN = "detector_down"
    STOPPING = "stopping"


@dataclass(frozen=True)
class Heartbeat:
    camera_id: int
    node: str
    pid: int
    state: str
    # Unix time of the last segment processed, and of this heartbeat.
    last_segment_at: float | None
    updated_at: float
    token: str = ""
    # Seconds between the end of the last segment (its program date-time) and its processing.
    lag_s: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Heartbeat | None:
        """A heartbeat, or None for a value that is not one (logged: it should not happen)."""
        try:
            data = json.loads(raw)
            return cls(**{key: data.get(key) for key in cls.__dataclass_fields__ if key in data})
        except (ValueError, TypeError) as exc:
            log.warning("unreadable watcher heartbeat %r: %s", raw[:200], exc)
            return None


def lease_key(camera_id: int) -> str:
    return f"{KEY_PREFIX}{camera_id}"


def read_heartbeats(redis_client, camera_ids: Iterable[int]) -> dict[int, Heartbeat | None]:
    """The live heartbeat of each camera (None where no watcher holds its lease), in one round trip."""
    ids = list(camera_ids)
    if not ids:
        return {}
    values = redis_client.mget([lease_key(camera_id) for camera_id in ids])
    return {
        camera_id: Heartbeat.from_json(value) if value is not None else None
        for camera_id, value in zip(ids, values, strict=True)
    }
