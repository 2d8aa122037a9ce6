"""publish_faces against a real Redis: channel per camera, JSON as sent, Redis down tolerated."""

from __future__ import annotations

import json
import logging

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from server.faces_pub import FACES_CHANNEL, FACES_PATTERN, camera_of, faces_channel, publish_faces
from tests.faces.facekit import faces_message
from tests.support.servers import free_port


def test_a_message_arrives_as_json_on_its_cameras_channel(redis_client: redis.Redis) -> None:
    pubsub = redis_client.pubsub()
    pubsub.psubscribe(FACES_PATTERN)
    assert pubsub.get_message(timeout=5)["type"] == "psubscribe"
    message = faces_message(12, 3)
    publish_faces(redis_client, message)
    got = pubsub.get_message(timeout=5)
    assert got["channel"] == "hypersight:faces:12"
    assert json.loads(got["data"]) == message
    pubsub.close()


@pytest.mark.parametrize(
    ("channel", "camera"),
    [
        (faces_channel(7), 7),
        (b"hypersight:faces:42", 42),
        (FACES_CHANNEL, None),
        ("hypersight:faces:x", None),
        ("hypersight:faces:-1", None),
        ("other:faces:1", None),
        ("hypersight:faces:1:2", None),
    ],
)
def test_camera_of_channel(channel: str | bytes, camera: int | None) -> None:
    assert camera_of(channel) == camera


@pytest.mark.parametrize("camera_id", [None, "1", 1.0, True, -1])
def test_a_message_without_an_integer_camera_id_is_a_bug(redis_client: redis.Redis, camera_id: object) -> None:
    with pytest.raises(ValueError, match="camera_id"):
        publish_faces(redis_client, {"camera_id": camera_id, "faces": []})


def test_redis_down_drops_faces_and_says_so_once(caplog: pytest.LogCaptureFixture, redis_url: str) -> None:
    # Nothing listens there; no retries, so that the test does not sit through redis-py's backoff.
    nowhere = redis.Redis(port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    working = redis.Redis.from_url(redis_url)
    with caplog.at_level(logging.INFO, logger="server.faces_pub"):
        for seq in range(3):
            publish_faces(nowhere, faces_message(1, seq))
        publish_faces(working, faces_message(1, 3))
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot publish faces" in m for m in messages) == 1
    assert sum("publishing faces again" in m for m in messages) == 1
    working.close()
