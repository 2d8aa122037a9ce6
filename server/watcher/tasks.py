"""Celery tasks: ``watch_camera`` (one per camera, for its whole life) and ``ensure_watchers``.

The Celery settings that make long-lived tasks safe are in server/celery_app.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import redis
from celery import shared_task
from celery.signals import worker_shutting_down
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select

from detector_client import from_config
from detector_client.transport import lean_session
from server.extensions import redis_client, sessionmaker_of
from server.models import Camera
from server.processors import ProcessorContext
from server.watcher.heartbeat import read_heartbeats
from server.watcher.lease import pending_key, stop_key
from server.watcher.watcher import Watcher, WatcherDeps

log = logging.getLogger(__name__)

# Set by SIGTERM in a worker process; the running watcher stops gracefully.
STOP = threading.Event()
SIGNAL_POLL_S = 0.5


def _deps() -> WatcherDeps:
    """The parts a watcher uses, from the Flask app this task runs in."""
    app = current_app._get_current_object()
    config = dict(app.config)
    clients = from_config(config)
    client = redis_client()
    # Faces are live only: a Redis outage must cost a publish a fraction of a second, not the
    # seconds of redis-py's default retries, or the watcher falls behind its stream.
    faces_redis = redis.Redis.from_url(config["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5,
                                       retry=Retry(NoBackoff(), 0))

    def context_factory(camera) -> ProcessorContext:
        from server.faces_pub import publish_faces

        return ProcessorContext(camera_url=camera.stream_url, camera_tz=camera.tz, face_detector=clients.faces,
                                publish_faces=lambda message: publish_faces(faces_redis, message))

    def previews_factory():
        from server.preview import PreviewManager

        return PreviewManager.from_config(config)

    return WatcherDeps(config=config, sessions=sessionmaker_of(app), redis=client, detector=clients.objects,
                       context_factory=context_factory, previews_factory=previews_factory,
                       http=lean_session())


@shared_task(name="hypersight.watch_camera", ignore_result=True)
def watch_camera(camera_id: int) -> bool:
    """Watch one camera until stopped; returns at once if another watcher has it."""
    STOP.clear()
    with _sigterm_stops_the_watcher():
        return Watcher(camera_id, _deps(), STOP).run()


@contextlib.contextmanager
def _sigterm_stops_the_watcher() -> Iterator[None]:
    """While the task runs, SIGTERM asks the watcher to stop instead of killing the process.

    Installed here rather than at process start, because billiard resets the signal
    handlers of a pool process after ``worker_process_init``. The handler only raises a
    flag, which a helper thread turns into the stop event: a handler that set the event
    or started a thread itself could deadlock on a lock the interrupted main thread holds.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals go to the main thread only (a threads or solo pool): nothing to install
        return
    flag = {"term": False}
    done = threading.Event()

    def relay() -> None:
        while not done.wait(SIGNAL_POLL_S):
            if flag["term"]:
                STOP.set()

    relay_thread = threading.Thread(target=relay, name="sigterm-relay", daemon=True)
    relay_thread.start()
    previous = signal.signal(signal.SIGTERM, lambda *_: flag.__setitem__("term", True))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        done.set()
        relay_thread.join(timeout=5)


@shared_task(name="hypersight.ensure_watchers", ignore_result=True)
def ensure_watchers() -> dict[str, list[int]]:
    """Start a watcher for each enabled camera without one; ask watchers of other cameras to stop."""
    client = redis_client()
    ttl = int(current_app.config["WATCHER_LEASE_TTL_S"])
    with sessionmaker_of(current_app)() as session:
        cameras = {c.id: c.enabled for c in session.scalars(select(Camera))}
    leased = {cid for cid, beat in read_heartbeats(client, _leased_ids(client)).items() if beat}
    started, stopped = [], []
    for camera_id, enabled in cameras.items():
        if enabled and camera_id not in leased and client.set(pending_key(camera_id), "1", nx=True, ex=2 * ttl):
            watch_camera.delay(camera_id)
            started.append(camera_id)
    for camera_id in leased:
        if not cameras.get(camera_id, False):
            client.set(stop_key(camera_id), "1", ex=2 * ttl)
            stopped.append(camera_id)
    if started or stopped:
        log.info("ensure_watchers: started %s, asked to stop %s", started, stopped)
    return {"started": started, "stopped": stopped}


def _leased_ids(client: redis.Redis) -> list[int]:
    return sorted(int(key.rsplit(":", 1)[1]) for key in client.scan_iter("hypersight:watcher:[0-9]*"))


@worker_shutting_down.connect
def _stop_watchers(**_: Any) -> None:
    """A warm shutdown waits for running tasks, and a watcher never ends: ask each pool process to stop."""
    from billiard.process import active_children

    for child in active_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGTERM)
