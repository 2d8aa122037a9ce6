"""A watcher keeps its lease and hears restarts whatever its loop is doing; it follows settings while down."""

from __future__ import annotations

import time

import redis

import server.watcher.pipeline as pipeline_module
from server.metrics import METRICS_PREFIX
from server.models import Camera
from server.watcher.heartbeat import read_heartbeats
from server.watcher.lease import GENERATION_KEY
from tests.support.servers import RedisOnPort, free_port
from tests.support.streams import StaticServer
from tests.support.waiting import wait_until
from tests.watcher.test_watcher_faults import make_segments, state_of
from tests.watcher.test_watcher_loop import events_of


def token_of(client, camera_id: int) -> str | None:
    found = read_heartbeats(client, [camera_id])[camera_id]
    return found.token if found else None


def counter(client, camera_id: int, name: str) -> int:
    return int(client.hget(f"{METRICS_PREFIX}{camera_id}", name) or 0)


def test_lease_is_kept_while_a_detector_call_hangs(live_stream, detector, add_camera, make_watcher, redis_client):
    """The detector accepts and never answers in time (5 s client timeout > 3 s lease TTL)."""
    camera_id, _, _ = add_camera(live_stream.url, fps=2.0)
    _, thread = make_watcher(camera_id, detector.url, WATCHER_LEASE_TTL_S=3)
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=30)
    token = token_of(redis_client, camera_id)
    detector.mode = "hang"
    requests_then = detector.requests
    wait_until(lambda: detector.requests > requests_then, timeout_s=10)
    for _ in range(40):  # 10 s, through two hung calls
        assert token_of(redis_client, camera_id) == token
        time.sleep(0.25)
    assert thread.is_alive()
    assert state_of(redis_client, camera_id) == "detector_down"
    detector.mode = "ok"


def test_restart_is_heard_while_waiting_for_the_detector(live_stream, detector, add_camera, make_watcher,
                                                         redis_client):
    camera_id, _, _ = add_camera(live_stream.url, fps=2.0)
    _, thread = make_watcher(camera_id, detector.url)
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=30)
    detector.mode = "down"
    wait_until(lambda: state_of(redis_client, camera_id) == "detector_down", timeout_s=30)
    redis_client.incr(GENERATION_KEY)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert token_of(redis_client, camera_id) is None  # released, not left to expire


def test_long_detector_outage_drops_segments_and_keeps_up(live_stream, detector, sessions, add_camera,
                                                          make_watcher, redis_client, monkeypatch):
    monkeypatch.setattr(pipeline_module, "MAX_DETECTOR_WAIT_S", 2.0)
    camera_id, _, objects_id = add_camera(live_stream.url, fps=2.0)
    make_watcher(camera_id, detector.url)
    wait_until(lambda: events_of(sessions, objects_id), timeout_s=30)
    detector.mode = "down"
    wait_until(lambda: counter(redis_client, camera_id, "dropped_frames") > 0, timeout_s=30)
    segments = counter(redis_client, camera_id, "segments")
    # Still down, the watcher keeps consuming its stream rather than queueing it up.
    wait_until(lambda: counter(redis_client, camera_id, "segments") >= segments + 3, timeout_s=30)
    assert state_of(redis_client, camera_id) == "detector_down"
    stored = len(events_of(sessions, objects_id))
    detector.mode = "ok"
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=30)
    wait_until(lambda: len(events_of(sessions, objects_id)) > stored, timeout_s=30)


def test_corrected_url_is_followed_while_the_old_one_is_dead(live_stream, detector, sessions, add_camera,
                                                             make_watcher, redis_client):
    camera_id, _, objects_id = add_camera(f"http://127.0.0.1:{free_port()}/typo.m3u8", fps=2.0)
    _, thread = make_watcher(camera_id, detector.url)
    wait_until(lambda: state_of(redis_client, camera_id) == "reconnecting", timeout_s=20)
    with sessions() as session:
        session.get(Camera, camera_id).stream_url = live_stream.url
        session.commit()
    wait_until(lambda: events_of(sessions, objects_id), timeout_s=40)
    assert state_of(redis_client, camera_id) == "streaming"
    assert thread.is_alive()


def test_camera_disabled_while_its_stream_is_down_stops_its_watcher(detector, sessions, add_camera, make_watcher,
                                                                    redis_client):
    camera_id, _, _ = add_camera(f"http://127.0.0.1:{free_port()}/down.m3u8")
    _, thread = make_watcher(camera_id, detector.url)
    wait_until(lambda: state_of(redis_client, camera_id) == "reconnecting", timeout_s=20)
    with sessions() as session:
        session.get(Camera, camera_id).enabled = False
        session.commit()
    thread.join(timeout=20)
    assert not thread.is_alive()


def test_redis_restart_keeps_the_watcher_and_its_events(tmp_path, live_stream, detector, sessions, add_camera,
                                                        make_watcher):
    """Redis restarted without persistence: the lease is taken again by the same watcher, nothing doubles."""
    server = RedisOnPort(tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=2)
    try:
        camera_id, _, objects_id = add_camera(live_stream.url, fps=2.0)
        _, thread = make_watcher(camera_id, detector.url, redis=client)
        wait_until(lambda: events_of(sessions, objects_id), timeout_s=30)
        token = token_of(client, camera_id)
        server.stop()
        time.sleep(3)
        server.start()
        wait_until(lambda: token_of(client, camera_id) == token, timeout_s=20)
        assert thread.is_alive()
        stored = len(events_of(sessions, objects_id))
        wait_until(lambda: len(events_of(sessions, objects_id)) > stored + 2, timeout_s=30)
        assert state_of(client, camera_id) == "streaming"
        times = [ts for ts, _ in events_of(sessions, objects_id)]
        assert len(times) == len(set(times)), "an event was stored twice"
    finally:
        server.stop()
        client.close()


def test_garbage_after_an_outage_ends_the_detector_down_state(live_stream, detector, add_camera, make_watcher,
                                                             redis_client):
    """A detector that answers, even wrongly, is not down: its batches are skipped, the state says streaming."""
    camera_id, _, _ = add_camera(live_stream.url, fps=2.0)
    make_watcher(camera_id, detector.url)
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=30)
    detector.mode = "down"
    wait_until(lambda: state_of(redis_client, camera_id) == "detector_down", timeout_s=30)
    detector.mode = "garbage"
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=30)


def test_corrected_url_is_followed_while_the_old_playlist_is_stale(tmp_path, live_stream, detector, sessions,
                                                                   add_camera, make_watcher, redis_client):
    """The old origin still answers, with a playlist that never changes: no segment brings the new settings."""
    stale = tmp_path / "stale"
    make_segments(stale, 2)
    server = StaticServer(stale).start()
    try:
        camera_id, _, objects_id = add_camera(server.url("made.m3u8"), fps=2.0)
        _, thread = make_watcher(camera_id, detector.url)
        wait_until(lambda: counter(redis_client, camera_id, "segments") >= 2, timeout_s=30)
        with sessions() as session:
            session.get(Camera, camera_id).stream_url = live_stream.url
            session.commit()
        stored = len(events_of(sessions, objects_id))
        wait_until(lambda: len(events_of(sessions, objects_id)) > stored, timeout_s=40)
        assert thread.is_alive()
    finally:
        server.stop()
