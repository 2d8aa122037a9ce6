"""Each camera's watcher as the admin pages show it, from the heartbeats in Redis."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from server.extensions import redis_client
from server.watcher.heartbeat import Heartbeat, read_heartbeats

log = logging.getLogger(__name__)

NOT_RUNNING = "not running"
UNKNOWN = "unknown (Redis unavailable)"


@dataclass(frozen=True)
class WatcherStatus:
    """What an operator asks of a watcher: is it running, where, is video flowing, is it alive.

    ``last_segment_age_s``: seconds since the watcher last processed a segment
    (video flowing). ``lag_s``: how far behind live that segment was processed
    (from its program date-time), as the watcher wrote it in its heartbeat.
    """

    state: str
    node: str | None = None
    pid: int | None = None
    last_segment_age_s: float | None = None
    lag_s: float | None = None

    @property
    def running(self) -> bool:
        return self.node is not None


def _from_beat(beat: Heartbeat | None, now: float) -> WatcherStatus:
    if beat is None:
        return WatcherStatus(NOT_RUNNING)
    segment_age = now - beat.last_segment_at if beat.last_segment_at else None
    return WatcherStatus(beat.state, beat.node, beat.pid, segment_age, beat.lag_s)


def watcher_statuses(camera_ids: Iterable[int]) -> dict[int, WatcherStatus]:
    """Statuses of the given cameras in one Redis round trip; "unknown" for all if Redis is down."""
    ids = list(camera_ids)
    try:
        beats = read_heartbeats(redis_client(), ids)
    except redis.RedisError as exc:
        log.warning("watcher heartbeats unavailable: %s", exc)
        return {camera_id: WatcherStatus(UNKNOWN) for camera_id in ids}
    now = time.time()
    return {camera_id: _from_beat(beats.get(camera_id), now) for camera_id in ids}


def age_text(seconds: float | None) -> str:
    """A human duration for a table cell: "4 s", "3 min", "2.5 h", or "—" when unknown.

    Examples:
        >>> age_text(4.2), age_text(185), age_text(9000), age_text(None)
        ('4 s', '3 min', '2.5 h', '—')
    """
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
