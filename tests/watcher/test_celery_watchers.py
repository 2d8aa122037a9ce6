"""Watchers under a real Celery worker and beat, with a real Redis, a live HLS stream and HTTP detection.

The detector is tests/support/blob_detector.py (protocol-faithful, exact on the synthetic stream).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server import create_app, migrate
from server.extensions import sessionmaker_of
from server.watcher.heartbeat import read_heartbeats
from tests.support.celery_procs import ROOT, CeleryProcesses
from tests.support.waiting import wait_until
from tests.watcher.conftest import RIGHT_HALF

LEASE_TTL_S = 6
CHECK_S = 2


@pytest.fixture()
def system(tmp_path: Path, redis_url: str, detector, live_stream) -> Iterator[dict]:
    env = {
        "HYPERSIGHT_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'celery.db'}",
        "HYPERSIGHT_REDIS_URL": redis_url,
        "HYPERSIGHT_OBJECT_DETECTOR_URL": detector.url,
        "HYPERSIGHT_DETECTOR_RETRIES": "0",
        "HYPERSIGHT_SEGMENTS_DIR": str(tmp_path / "segments"),
        "HYPERSIGHT_PROCESSORS_PREVIEW_DIR": str(tmp_path / "previews"),
        "HYPERSIGHT_WATCHER_LEASE_TTL_S": str(LEASE_TTL_S),
        "HYPERSIGHT_WATCHER_CHECK_S": str(CHECK_S),
        "HYPERSIGHT_DEVELOPMENT": "true",
    }
    config = {key.removeprefix("HYPERSIGHT_"): value for key, value in env.items()}
    app = create_app({**config, "TESTING": True})
    migrate.upgrade(sessionmaker_of(app).kw["bind"])
    procs = CeleryProcesses(env, tmp_path)
    yield {"app": app, "client": app.test_client(), "procs": procs, "env": env, "stream": live_stream,
           "detector": detector}
    procs.stop_all()


def add_camera(client, url: str) -> tuple[int, int, int]:
    camera = client.post("/api/cameras", json={"stream_url": url, "watch_fps": 4, "watch_rows": 2,
                                               "watch_cols": 2}).get_json()
    ids = [client.post("/api/processors", json={"camera_id": camera["id"], "type": kind, "zones": [RIGHT_HALF]})
           .get_json()["id"] for kind in ("traffic", "object")]
    return camera["id"], ids[0], ids[1]


def heartbeat(app, camera_id: int):
    with app.app_context():
        from server.extensions import redis_client

        return read_heartbeats(redis_client(), [camera_id])[camera_id]


def test_camera_added_through_the_api_is_watched_and_answered(system):
    app, client, procs = system["app"], system["client"], system["procs"]
    procs.worker("w1")
    procs.beat()
    camera_id, traffic_id, objects_id = add_camera(client, system["stream"].url)
    beat = wait_until(lambda: heartbeat(app, camera_id), timeout_s=30)
    assert beat.state in ("starting", "streaming")
    traffic = wait_until(lambda: client.post("/traffic", json={
        "proc_id": traffic_id, "start_ts": "2000-01-01 00:00:00"}).get_json().get("traffic"), timeout_s=40)
    assert traffic >= 1
    objects = client.post("/objects", json={"proc_id": objects_id}).get_json()
    assert objects["err"] is False and objects["count"] in (0, 1)
    status = client.get("/statusWatch").get_json()[str(camera_id)]
    assert status["watching"] is True and status["state"] == "streaming"

    # SIGTERM: the watcher stores its events, releases its lease, and the worker exits.
    procs.signal("w1", signal.SIGTERM)
    assert procs.wait("w1", timeout_s=40) == 0
    assert heartbeat(app, camera_id) is None
    assert "camera 1: stopped" in procs.log("w1")


def test_killed_worker_is_replaced_within_a_lease_ttl(system):
    app, client, procs = system["app"], system["client"], system["procs"]
    procs.worker("w1")
    procs.beat()
    camera_id, _, _ = add_camera(client, system["stream"].url)
    first = wait_until(lambda: heartbeat(app, camera_id), timeout_s=30)
    procs.worker("w2")
    procs.signal("w1", signal.SIGKILL)
    second = wait_until(lambda: (b := heartbeat(app, camera_id)) and b.pid != first.pid and b, timeout_s=40)
    assert second.state in ("starting", "streaming", "reconnecting")
    assert "camera 1: watching" in procs.log("w2")


def test_at_most_one_watcher_per_camera_and_restart(system):
    app, client, procs = system["app"], system["client"], system["procs"]
    procs.worker("w1")
    procs.worker("w2")
    procs.beat()
    camera_id, _, _ = add_camera(client, system["stream"].url)
    first = wait_until(lambda: heartbeat(app, camera_id), timeout_s=30)
    celery = app.extensions["celery"]
    for _ in range(3):  # duplicates, as a redelivery would make
        celery.send_task("hypersight.watch_camera", args=[camera_id])
    wait_until(lambda: (procs.log("w1") + procs.log("w2")).count("already watched elsewhere") >= 3, timeout_s=30)
    assert heartbeat(app, camera_id).token == first.token

    result = subprocess.run([sys.executable, "restart_watchers.py", "--wait", "30"], cwd=ROOT,
                            env={**system["procs"].env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"asked 1 watcher(s) to stop: [{camera_id}]" in result.stdout
    assert f"started watchers for camera(s) [{camera_id}]" in result.stdout
    again = wait_until(lambda: (b := heartbeat(app, camera_id)) and b.token != first.token and b, timeout_s=30)
    assert again is not None

    # Disabling the camera stops its watcher.
    client.patch(f"/api/cameras/{camera_id}", json={"enabled": False})
    wait_until(lambda: heartbeat(app, camera_id) is None, timeout_s=30)


def test_sigterm_to_a_pool_process_stops_its_watcher_gracefully(system):
    """What systemd's control-group kill sends every process: the watcher stops, its process lives on."""
    app, client, procs = system["app"], system["client"], system["procs"]
    procs.worker("w1")
    procs.beat()
    camera_id, _, _ = add_camera(client, system["stream"].url)
    first = wait_until(lambda: (b := heartbeat(app, camera_id)) and b.state == "streaming" and b, timeout_s=30)
    os.kill(first.pid, signal.SIGTERM)
    wait_until(lambda: f"camera {camera_id}: stopped" in procs.log("w1"), timeout_s=30)
    # ensure_watchers starts the camera again.
    again = wait_until(lambda: (b := heartbeat(app, camera_id)) and b.token != first.token and b, timeout_s=30)
    assert again.state in ("starting", "streaming")
    # The signal asked the watcher to stop and nothing else: its pool process lives on (billiard's own
    # handler would have made it exit, losing whatever it had not stored).
    assert process_alive(first.pid)


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_a_full_worker_takes_no_new_task(system):
    """A worker whose only process watches a camera leaves the next camera to a worker with room."""
    app, client, procs = system["app"], system["client"], system["procs"]
    procs.worker("full", concurrency=1)
    first_id, _, _ = add_camera(client, system["stream"].url)
    procs.beat()
    wait_until(lambda: heartbeat(app, first_id), timeout_s=30)
    assert heartbeat(app, first_id).state in ("starting", "streaming")
    received_when_full = procs.log("full").count(" received")
    procs.worker("roomy")
    second_id, _, _ = add_camera(client, system["stream"].url + "?second")
    wait_until(lambda: heartbeat(app, second_id), timeout_s=30)
    wait_until(lambda: procs.log("roomy").count("ensure_watchers") >= 3, timeout_s=30)
    assert procs.log("full").count(" received") == received_when_full
