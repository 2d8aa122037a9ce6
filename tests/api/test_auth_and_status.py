"""API tokens, /health, and /statusWatch from watcher heartbeats in a real Redis."""

from __future__ import annotations

import json
import time

import pytest

from server.watcher.heartbeat import Heartbeat, lease_key
from tests.support.servers import free_port

PROTECTED = [("get", "/api/cameras"), ("post", "/traffic"), ("post", "/Objects"), ("get", "/statusWatch"),
             ("get", "/api/processors/1/events")]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    ("header", "allowed"),
    [(None, False), ("Bearer wrong", False), ("Basic s3cret-token", False), ("Bearer s3cret-token", True),
     ("bearer other-token", True)],
)
def test_api_tokens(app_factory, method, path, header, allowed):
    client = app_factory(API_TOKENS=["s3cret-token", "other-token"]).test_client()
    headers = {"Authorization": header} if header else {}
    answer = getattr(client, method)(path, headers=headers, json={})
    if allowed:
        assert answer.status_code != 401
    else:
        assert answer.status_code == 401
        assert answer.get_json() == {"err": True, "msg": "Missing or wrong API token (Authorization: Bearer <token>)"}


def test_health_needs_no_token(app_factory):
    client = app_factory(API_TOKENS=["s3cret-token"]).test_client()
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.get_json() == {"ok": True, "database": True, "redis": True}


def test_status_watch_without_watchers(client, camera_with_processors):
    camera, _, _ = camera_with_processors()
    assert client.get("/statusWatch").get_json() == {
        str(camera.id): {"watching": False, "url": camera.stream_url, "enabled": True, "state": None,
                         "node": None, "last_segment_age_s": None, "lag_s": None}
    }


def test_status_watch_reads_heartbeats(client, camera_with_processors, redis_client):
    first, _, _ = camera_with_processors(url="http://127.0.0.1/one.m3u8")
    second, _, _ = camera_with_processors(url="http://127.0.0.1/two.m3u8")
    beat = Heartbeat(camera_id=second.id, node="node-a", pid=42, state="streaming",
                     last_segment_at=time.time() - 3, updated_at=time.time(), lag_s=1.5)
    redis_client.set(lease_key(second.id), beat.to_json(), ex=30)
    status = client.get("/statusWatch").get_json()
    assert status[str(first.id)]["watching"] is False
    assert status[str(second.id)]["watching"] is True
    assert status[str(second.id)]["state"] == "streaming" and status[str(second.id)]["node"] == "node-a"
    assert 2 <= status[str(second.id)]["last_segment_age_s"] < 60
    assert status[str(second.id)]["lag_s"] == 1.5


def test_status_watch_survives_a_garbled_heartbeat(client, camera_with_processors, redis_client):
    camera, _, _ = camera_with_processors()
    redis_client.set(lease_key(camera.id), json.dumps({"state": "streaming"})[:-3], ex=30)
    status = client.get("/statusWatch").get_json()
    assert status[str(camera.id)]["watching"] is False


def test_redis_down_is_503_not_500(app_factory, camera_with_processors):
    camera_with_processors()
    app = app_factory(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    answer = client.get("/statusWatch")
    assert answer.status_code == 503
    assert answer.get_json() == {"err": True, "msg": "Redis unavailable, try again"}
    assert client.get("/health").get_json() == {"ok": True, "database": True, "redis": False}
