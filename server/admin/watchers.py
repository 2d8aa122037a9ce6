"""Watchers: every camera's watcher from its heartbeat, and a "restart watchers" action."""

from __future__ import annotations

import logging

import redis
from flask import current_app, flash, redirect, url_for
from flask_admin import expose
from sqlalchemy import select
from werkzeug.wrappers import Response

from server.admin.base import SecureView
from server.admin.status import age_text, watcher_statuses
from server.extensions import db_session, redis_client
from server.models import Camera
from server.watcher.lease import GENERATION_KEY, pending_key

log = logging.getLogger(__name__)

def request_restart() -> int:
    """Ask every watcher to stop (a new generation); beat's ensure_watchers starts new ones.

    Unlike restart_watchers.py (the boot-time script, which waits for the old
    watchers and queues the new ones itself) a web request must answer at once:
    each camera's new watcher is started by ensure_watchers as soon as the old one
    has released its lease, within one WATCHER_CHECK_S, never beside it.
    """
    client = redis_client()
    generation = client.incr(GENERATION_KEY)
    cameras = db_session().scalars(select(Camera.id)).all()
    if cameras:
        client.delete(*(pending_key(camera_id) for camera_id in cameras))
    log.info("watchers restarted from the admin: generation %s", generation)
    return generation


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
        try:
            request_restart()
            flash("Asked every watcher to stop; new ones start within "
                  f"{current_app.config['WATCHER_CHECK_S']} s of the old ones releasing their cameras.", "success")
        except redis.RedisError as exc:
            log.error("restart of the watchers failed: %s", exc)
            flash(f"Could not restart the watchers: {exc}", "error")
        return redirect(url_for(".index"))
