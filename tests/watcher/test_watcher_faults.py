"""A watcher never dies and never loses computed events: stream, segment, detector and database faults."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db import make_engine, make_sessionmaker
from server.migrate import upgrade
from server.models import Camera, ObjectsCounter, ProcessorEvent, TrafficCounter
from server.watcher.heartbeat import Heartbeat, lease_key, read_heartbeats
from tests.support.servers import PostgresServer, free_port
from tests.support.streams import StaticServer, walker_source
from tests.support.waiting import wait_until
from tests.watcher.conftest import RIGHT_HALF
from tests.watcher.test_watcher_loop import events_of


def state_of(redis_client, camera_id: int) -> str | None:
    beat = read_heartbeats(redis_client, [camera_id])[camera_id]
    return beat.state if beat else None


def test_detector_down_then_back(live_stream, detector, sessions, add_camera, make_watcher, redis_client):
    camera_id, _traffic_id, objects_id = add_camera(live_stream.url, fps=2.0)
    make_watcher(camera_id, detector.url)
    wait_until(lambda: events_of(sessions, objects_id), timeout_s=30)
    detector.mode = "down"
    wait_until(lambda: state_of(redis_client, camera_id) == "detector_down", timeout_s=30)
    before = len(events_of(sessions, objects_id))
    detector.mode = "ok"
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=30)
    wait_until(lambda: len(events_of(sessions, objects_id)) > before, timeout_s=30)


def test_detector_that_lies_skips_batches_and_keeps_watching(live_stream, detector, sessions, add_camera,
                                                             make_watcher, redis_client):
    camera_id, _, objects_id = add_camera(live_stream.url, fps=2.0)
    detector.mode = "garbage"
    _, thread = make_watcher(camera_id, detector.url)
    wait_until(lambda: detector.requests >= 4, timeout_s=30)
    assert thread.is_alive() and events_of(sessions, objects_id) == []
    detector.mode = "ok"
    wait_until(lambda: events_of(sessions, objects_id), timeout_s=30)


def test_stream_down_then_back(live_stream, detector, sessions, add_camera, make_watcher, redis_client):
    camera_id, _, objects_id = add_camera(live_stream.url, fps=2.0)
    make_watcher(camera_id, detector.url)
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=30)
    port = live_stream.http.port
    live_stream.stop()
    wait_until(lambda: state_of(redis_client, camera_id) == "reconnecting", timeout_s=30)
    live_stream.http.port = port
    live_stream.start()
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=40)
    count = len(events_of(sessions, objects_id))
    wait_until(lambda: len(events_of(sessions, objects_id)) > count, timeout_s=30)


def test_unreachable_stream_reports_reconnecting(detector, add_camera, make_watcher, redis_client):
    camera_id, _, _ = add_camera(f"http://127.0.0.1:{free_port()}/nothing.m3u8")
    _, thread = make_watcher(camera_id, detector.url)
    wait_until(lambda: state_of(redis_client, camera_id) == "reconnecting", timeout_s=20)
    assert thread.is_alive()


def make_segments(folder: Path, count: int) -> list[str]:
    """``count`` real 1 s TS segments of the synthetic walker, made by ffmpeg."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", *walker_source(), "-t", str(count), "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", "-f", "hls", "-hls_time", "1",
                    "-hls_list_size", "0", "-hls_segment_filename", str(folder / "good%d.ts"),
                    str(folder / "made.m3u8")], check=True)
    return sorted(path.name for path in folder.glob("good*.ts"))


def test_corrupt_and_empty_segments_are_skipped(tmp_path, detector, sessions, add_camera, make_watcher,
                                                redis_client):
    folder = tmp_path / "vod"
    good = make_segments(folder, 4)
    (folder / "corrupt.ts").write_bytes(b"\x47" + b"garbage" * 5000)
    (folder / "empty.ts").write_bytes(b"")
    order = [good[0], "corrupt.ts", good[1], "empty.ts", "missing.ts", good[2], good[3]]
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    for name in order:
        lines += ["#EXTINF:1.0,", name]
    (folder / "live.m3u8").write_text("\n".join(lines) + "\n")
    server = StaticServer(folder).start()
    try:
        camera_id, _, objects_id = add_camera(server.url("live.m3u8"), fps=2.0)
        watcher, thread = make_watcher(camera_id, detector.url)
        # A new watcher starts at the live edge (the last two segments); feed it the rest as "new" ones.
        wait_until(lambda: detector.requests >= 2, timeout_s=30)
        lines2 = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:7"]
        for name in ["corrupt.ts", "empty.ts", good[0], good[1]]:
            lines2 += ["#EXTINF:1.0,", f"{name}?again"]
        (folder / "live.m3u8").write_text("\n".join(lines2) + "\n")
        wait_until(lambda: detector.requests >= 6, timeout_s=30)
        assert thread.is_alive() and state_of(redis_client, camera_id) == "streaming"
        assert events_of(sessions, objects_id)
        # Segment files are deleted after use (the last one once its processing ends).
        wait_until(lambda: not any(Path(watcher.workdir).glob("*.ts")), timeout_s=10)
    finally:
        server.stop()


def test_leftover_segments_are_cleaned_at_start(tmp_path, live_stream, detector, add_camera, make_watcher):
    camera_id, _, _ = add_camera(live_stream.url)
    leftover = tmp_path / "segments" / str(camera_id) / "123.ts"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"old")
    make_watcher(camera_id, detector.url)
    wait_until(lambda: not leftover.exists(), timeout_s=20)


def test_watcher_that_loses_its_lease_stops(live_stream, detector, add_camera, make_watcher, redis_client):
    camera_id, _, _ = add_camera(live_stream.url)
    _watcher, thread = make_watcher(camera_id, detector.url)
    wait_until(lambda: state_of(redis_client, camera_id) == "streaming", timeout_s=30)
    usurper = Heartbeat(camera_id=camera_id, node="other", pid=1, state="streaming", last_segment_at=None,
                        updated_at=0, token="someone-else")
    redis_client.set(lease_key(camera_id), usurper.to_json(), ex=30)
    thread.join(timeout=30)
    assert not thread.is_alive()
    # It did not delete the lease it no longer owned.
    assert read_heartbeats(redis_client, [camera_id])[camera_id].token == "someone-else"


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_file_source_through_the_ffmpeg_segmenter(tmp_path, codec, detector, sessions, add_camera, make_watcher,
                                                  redis_client):
    """A non-HLS source (a file here; RTSP and HTTP go the same way): copied when H.264, else transcoded."""
    video = tmp_path / f"walk-{codec}.{'mp4' if codec == 'libx264' else 'avi'}"
    subprocess.run(["ffmpeg", "-v", "error", *walker_source(), "-t", "6", "-c:v", codec, "-g", "10", str(video)],
                   check=True)
    camera_id, _, objects_id = add_camera(str(video), fps=2.0)
    make_watcher(camera_id, detector.url)
    wait_until(lambda: len(events_of(sessions, objects_id)) >= 2, timeout_s=40)
    assert state_of(redis_client, camera_id) == "streaming"


@pytest.mark.postgres
def test_events_survive_a_database_outage(session_tmp, live_stream, detector, redis_url, make_watcher,
                                          redis_client, tmp_path):
    workdir = session_tmp / f"pg-{tmp_path.name}"
    workdir.mkdir()
    server = PostgresServer(workdir)
    server.init()
    server.start()
    try:
        engine = make_engine(server.url)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            camera = Camera(stream_url=live_stream.url, watch_fps=2.0)
            camera.processors = [TrafficCounter(zones=[RIGHT_HALF]), ObjectsCounter(zones=[RIGHT_HALF])]
            session.add(camera)
            session.commit()
            camera_id, objects_id = camera.id, camera.processors[1].id
        watcher, thread = make_watcher(camera_id, detector.url, sessions=sessions)
        wait_until(lambda: events_of(sessions, objects_id), timeout_s=30)
        server.stop()
        requests_then = detector.requests
        wait_until(lambda: detector.requests >= requests_then + 12, timeout_s=40)  # ~6 s counted while down
        pending = sum(len(v) for v in watcher.pipeline.pending.values())
        assert pending >= 1 and thread.is_alive()
        server.start()
        wait_until(lambda: not any(watcher.pipeline.pending.values()), timeout_s=30)
        with sessions() as session:
            stored = session.scalars(select(ProcessorEvent.value).where(ProcessorEvent.processor_id == objects_id))
            assert len(list(stored)) >= pending
    finally:
        server.stop()
