"""The watcher loop on real parts: a live HLS stream from ffmpeg, HTTP detection, SQLite, Redis."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlalchemy import select

from server.models import ProcessorEvent
from server.watcher.heartbeat import read_heartbeats
from tests.support.streams import WIDTH
from tests.support.waiting import wait_until

PERIOD_S = (WIDTH + 40) / 80.0  # the synthetic walker's period at 80 px/s
ENTER_AT_S = (WIDTH / 2 - 20 + 40) / 80.0  # its bottom-centre reaches the zone (x >= 0.5)


def events_of(sessions, processor_id: int) -> list[tuple[datetime, int]]:
    with sessions() as session:
        rows = session.execute(select(ProcessorEvent.ts, ProcessorEvent.value)
                               .where(ProcessorEvent.processor_id == processor_id)
                               .order_by(ProcessorEvent.ts)).all()
    return [(ts, value) for ts, value in rows]


def test_live_stream_to_events(live_stream, detector, sessions, add_camera, make_watcher, redis_client):
    camera_id, traffic_id, objects_id = add_camera(live_stream.url, fps=4.0, grid=(2, 2))
    watcher, thread = make_watcher(camera_id, detector.url)
    wait_until(lambda: len(events_of(sessions, traffic_id)) >= 2, timeout_s=40)
    beat = read_heartbeats(redis_client, [camera_id])[camera_id]
    assert beat is not None and beat.state == "streaming"
    watcher.stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert read_heartbeats(redis_client, [camera_id])[camera_id] is None  # the lease was released

    counters = redis_client.hgetall(f"hypersight:metrics:camera:{camera_id}")
    assert int(counters["segments"]) >= 2 and int(counters["frames"]) >= 4 and int(counters["detector_calls"]) >= 1

    traffic = events_of(sessions, traffic_id)
    objects = events_of(sessions, objects_id)
    # Each entry is one walker pass: one event of value 1 per period, about ENTER_AT_S into it.
    assert all(value == 1 for _, value in traffic)
    gaps = [(b - a).total_seconds() for (a, _), (b, _) in itertools.pairwise(traffic)]
    assert all(abs(gap - PERIOD_S) < 0.6 for gap in gaps), gaps
    # The objects count goes 1 when the walker enters and 0 when it wraps around.
    values = [value for _, value in objects]
    assert set(values) <= {0, 1} and all(a != b for a, b in itertools.pairwise(values))
    entries = [ts for ts, value in objects if value == 1]
    assert all(any(abs((ts - t).total_seconds()) < 0.3 for ts in entries) for t, _ in traffic)


def test_watcher_writes_the_preview_of_processors_with_output_hls(live_stream, detector, sessions, add_camera,
                                                                   make_watcher, tmp_path):
    import json
    import subprocess

    from server.models import Processor
    from server.preview import PreviewManager

    camera_id, traffic_id, _ = add_camera(live_stream.url, fps=2.0, grid=(2, 1))
    with sessions() as session:
        session.get(Processor, traffic_id).output_hls = True
        session.commit()
    previews = PreviewManager(tmp_path / "previews")
    watcher, thread = make_watcher(camera_id, detector.url, previews=previews)
    playlist = tmp_path / "previews" / str(traffic_id) / "index.m3u8"
    wait_until(lambda: playlist.exists() and playlist.read_text().count(".ts") >= 2, timeout_s=60)
    watcher.stop.set()
    thread.join(timeout=30)
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height,codec_name", "-of", "json", str(playlist)],
                           capture_output=True, text=True, check=True)
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 240)
    assert not (tmp_path / "previews" / "2" / "index.m3u8").exists()  # the objects processor has none


def test_faces_found_by_a_watcher_reach_redis(live_stream, detector, sessions, make_watcher, redis_url):
    """The face processor gets its camera's context (face detector, publisher, time zone) from the watcher."""
    import json

    import redis

    from detector_client import FaceDetectorClient
    from server.faces_pub import publish_faces
    from server.models import Camera, FaceDetector
    from server.processors import ProcessorContext

    with sessions() as session:
        camera = Camera(stream_url=live_stream.url, watch_fps=2.0, tz=2)
        camera.processors = [FaceDetector(zones=[], threshold=0.5)]
        session.add(camera)
        session.commit()
        camera_id = camera.id
    publisher = redis.Redis.from_url(redis_url)
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.psubscribe("hypersight:faces:*")
    faces = FaceDetectorClient(detector.url.replace("/detect", "/faces"))

    def context(camera_settings) -> ProcessorContext:
        return ProcessorContext(camera_url=camera_settings.stream_url, camera_tz=camera_settings.tz,
                                face_detector=faces, publish_faces=lambda message: publish_faces(publisher, message))

    make_watcher(camera_id, detector.url, context_factory=context)
    message = wait_until(lambda: listener.get_message(ignore_subscribe_messages=True, timeout=0.5), timeout_s=40)
    payload = json.loads(message["data"])
    assert payload["camera_id"] == camera_id and payload["camera_url"] == live_stream.url
    assert payload["faces"][0]["conf"] == 0.95 and payload["container"] == "jpg"
    # frame_ts is camera-local (UTC+2): two hours ahead of the UTC clock, give or take the stream's latency.
    local = datetime.strptime(payload["frame_ts"], "%Y-%m-%d %H:%M:%S.%f")
    assert abs((local - datetime.now(UTC).replace(tzinfo=None)).total_seconds() - 7200) < 60
