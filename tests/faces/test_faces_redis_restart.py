"""Redis going away and coming back on the same port: the relay keeps its clients and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from server.faces_pub import publish_faces
from tests.faces.facekit import faces_message, relay_process, wait_for
from tests.support.servers import RedisOnPort


def test_relay_survives_a_redis_restart_and_logs_the_outage_once(tmp_path: Path) -> None:
    server = RedisOnPort(tmp_path)
    server.start()
    try:
        with relay_process(tmp_path, server.url, log_level="DEBUG") as relay, relay.subscribe() as ws:
            publisher = redis.Redis.from_url(server.url)
            publish_faces(publisher, faces_message(1, 0))
            assert json.loads(ws.recv(timeout=10))["seq"] == 0

            server.stop()
            wait_for(lambda: relay.log.count("reconnecting to Redis") >= 3, what="several retries")
            status = relay.status()  # the relay still answers, and says Redis is down
            assert status["redis"] == "down" and status["subscribers"] == 1

            server.start()
            wait_for(lambda: "Redis is back" in relay.log, what="the relay to resubscribe")
            wait_for(lambda: publisher.pubsub_numpat() >= 1, what="the pattern subscription")
            publish_faces(publisher, faces_message(1, 1))
            assert json.loads(ws.recv(timeout=10))["seq"] == 1  # the same connection carries on
            publisher.close()
        log = relay.log
        assert log.count("Redis unavailable") == 1  # one warning, however many retries
        assert log.count("Redis is back") == 1
    finally:
        server.stop()
