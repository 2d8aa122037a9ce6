"""Watcher fixtures: a live synthetic HLS stream, the blob detector, a database with a camera."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy.orm import Session, sessionmaker

from detector_client import ObjectDetectorClient
from server.db import make_engine, make_sessionmaker
from server.migrate import upgrade
from server.models import Camera, ObjectsCounter, TrafficCounter
from server.processors import ProcessorContext
from server.watcher.watcher import Watcher, WatcherDeps
from tests.support.blob_detector import BlobDetector
from tests.support.streams import LiveHls

RIGHT_HALF = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]


@pytest.fixture()
def live_stream(tmp_path: Path) -> Iterator[LiveHls]:
    with LiveHls(tmp_path / "stream") as stream:
        yield stream


@pytest.fixture()
def detector() -> Iterator[BlobDetector]:
    with BlobDetector() as blob:
        yield blob


@pytest.fixture()
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'watch.db'}")
    upgrade(engine)
    return make_sessionmaker(engine)


@pytest.fixture()
def add_camera(sessions) -> Callable[..., tuple[int, int, int]]:
    """A camera on ``url`` with a traffic and an objects processor on the right half of the frame."""

    def add(url: str, fps: float = 2.0, grid: tuple[int, int] = (1, 1)) -> tuple[int, int, int]:
        with sessions() as session:
            camera = Camera(stream_url=url, watch_fps=fps, watch_rows=grid[0], watch_cols=grid[1])
            camera.processors = [TrafficCounter(zones=[RIGHT_HALF], threshold=0.5),
                                 ObjectsCounter(zones=[RIGHT_HALF], threshold=0.5)]
            session.add(camera)
            session.commit()
            return camera.id, camera.processors[0].id, camera.processors[1].id

    return add


@pytest.fixture()
def make_watcher(sessions, redis_url, tmp_path) -> Iterator[Callable[..., tuple[Watcher, threading.Thread]]]:
    """Start a Watcher in a thread (the code a Celery task runs, without Celery); stopped at the end."""
    started: list[tuple[Watcher, threading.Thread]] = []
    client = redis.Redis.from_url(redis_url, decode_responses=True)

    def make(camera_id: int, detector_url: str, sessions=sessions, previews=None, context_factory=None,
             redis=None, **config) -> tuple[Watcher, threading.Thread]:
        deps = WatcherDeps(
            config={"WATCHER_LEASE_TTL_S": 10, "SEGMENTS_DIR": str(tmp_path / "segments"), **config},
            sessions=sessions, redis=redis or client,
            detector=ObjectDetectorClient(detector_url, read_timeout_s=5, retries=0),
            context_factory=context_factory or (
                lambda camera: ProcessorContext(camera_url=camera.stream_url, camera_tz=camera.tz)),
            previews_factory=lambda: previews, http=requests.Session())
        watcher = Watcher(camera_id, deps)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        started.append((watcher, thread))
        return watcher, thread

    yield make
    for watcher, thread in started:
        watcher.stop.set()
        thread.join(timeout=30)
    client.close()
