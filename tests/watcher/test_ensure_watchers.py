"""ensure_watchers, called as beat calls it, against a real Redis (which is also the Celery broker here)."""

from __future__ import annotations

import json
import time

from server.models import Camera
from server.watcher.heartbeat import Heartbeat, lease_key
from server.watcher.lease import pending_key, stop_key
from server.watcher.tasks import ensure_watchers


def queued_cameras(redis_client) -> list[int]:
    import base64

    bodies = [json.loads(base64.b64decode(json.loads(raw)["body"])) for raw in redis_client.lrange("watchers", 0, -1)]
    return sorted(body[0][0] for body in bodies)


def test_starts_missing_watchers_once_and_stops_orphans(app, session, redis_client):
    watched, missing, disabled = (Camera(stream_url=f"http://127.0.0.1:9/{n}.m3u8") for n in "abc")
    disabled.enabled = False
    session.add_all([watched, missing, disabled])
    session.commit()
    for camera in (watched, disabled):
        beat = Heartbeat(camera_id=camera.id, node="n", pid=1, state="streaming", last_segment_at=None,
                         updated_at=time.time())
        redis_client.set(lease_key(camera.id), beat.to_json(), ex=30)
    redis_client.set(lease_key(999), Heartbeat(camera_id=999, node="n", pid=2, state="streaming",
                                               last_segment_at=None, updated_at=time.time()).to_json(), ex=30)
    with app.app_context():
        first = ensure_watchers()
        again = ensure_watchers()  # the next beat, before the queued watcher has started
    assert first == {"started": [missing.id], "stopped": sorted([disabled.id, 999])}
    assert again["started"] == []
    assert queued_cameras(redis_client) == [missing.id]
    assert 0 < redis_client.ttl(pending_key(missing.id)) <= 60
    assert redis_client.exists(stop_key(disabled.id)) and redis_client.exists(stop_key(999))
    assert not redis_client.exists(stop_key(watched.id))
