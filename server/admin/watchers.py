"""Watchers: every camera's watcher from its heartbeat, and a "restart watchers" action."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import redis
from flask import Flask, current_app, flash, redirect, url_for
from flask_admin import expose
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import select
from werkzeug.wrappers import Response

from server.admin.base import SecureView
from server.admin.status import age_text, watcher_statuses
from server.extensions import db_session, redis_client
from server.models import Camera
from server.watcher.lease import GENERATION_KEY, pending_key

log = logging.getLogger(__name__)

PENDING_TTL_S = 60
WATCH_TASK = "hypersight.watch_camera"


def _lead_restart() -> Any:
    """``restart_all(app)`` of restart_watchers.py (the boot-time script) where it offers one."""
    try:
        module = importlib.import_module("restart_watchers")
    except ImportError as exc:
        log.warning("restart_watchers.py cannot be imported (%s); restarting from the admin's own logic", exc)
        return None
    return getattr(module, "restart_all", None)


def queue_restart(app: Flask) -> list[int]:
    """In a request of ``app``: ask every watcher to stop (a new generation) and queue one per enabled camera.

    Does not wait for the old watchers to go, unlike the boot-time script: a web
    request must answer at once. A new watcher that finds its camera's lease still
    held exits; ``ensure_watchers`` starts it again once the pending mark expires.
    """
    client = redis_client()
    generation = client.incr(GENERATION_KEY)
    enabled = list(db_session().scalars(select(Camera.id).where(Camera.enabled.is_(True)).order_by(Camera.id)))
    celery = app.extensions["celery"]
    for camera_id in enabled:
        client.set(pending_key(camera_id), "1", ex=PENDING_TTL_S)
        celery.send_task(WATCH_TASK, args=[camera_id])
    log.info("watchers restarted from the admin: generation %s, queued cameras %s", generation, enabled)
    return enabled


class WatchersView(SecureView):
    @expose("/")
    def index(self) -> str:
        cameras = db_session().scalars(select(Camera).order_by(Camera.id)).all()
        statuses = watcher_statuses(camera.id for camera in cameras)
        rows = [(camera, statuses[camera.id]) for camera in cameras]
        return self.render("hypersight/watchers.html", rows=rows, age_text=age_text)

    @expose("/restart", methods=["POST"])
    def restart(self) -> Response:
        """POST with the CSRF token (checked for every POST under /admin)."""
        app = current_app._get_current_object()
        restart_all = _lead_restart()
        try:
            if restart_all is not None:
                restart_all(app)
                flash("Watchers are restarting.", "success")
            else:
                started = queue_restart(app)
                flash(f"Asked every watcher to stop; queued watchers for {len(started)} enabled camera(s).",
                      "success")
        except (redis.RedisError, BrokerError) as exc:
            log.error("restart of the watchers failed: %s", exc)
            flash(f"Could not restart the watchers: {exc}", "error")
        return redirect(url_for(".index"))
