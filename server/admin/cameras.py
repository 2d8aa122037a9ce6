"""Cameras: list with each watcher's state, create/edit/delete, enable/disable, test connection, frame."""

from __future__ import annotations

import base64
import logging
from typing import Any

from flask import Response, abort, flash, g, jsonify, redirect, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.model.template import EndpointLinkRowAction
from markupsafe import Markup
from sqlalchemy import select, update
from wtforms.validators import ValidationError

from detector_client.jpeg import jpeg_size
from server.admin.base import SecureModelView, id_arg, row_ids
from server.admin.forms import CameraForm
from server.admin.status import NOT_RUNNING, WatcherStatus, age_text, watcher_statuses
from server.extensions import db_session, redis_client
from server.models import Camera
from server.snapshot import DEFAULT_SIZE, SnapshotError, forget_size, grab_frame, last_size, remember_size

log = logging.getLogger(__name__)

# Long enough for an HLS playlist and one segment over a slow link; short enough for a page.
FRAME_TIMEOUT_S = 8.0
STATE_BADGES = {"streaming": "success", "starting": "info", "reconnecting": "warning",
                "detector_down": "danger", "stopping": "secondary", NOT_RUNNING: "light"}


def _status(model: Camera) -> WatcherStatus:
    """The status fetched for the page being listed (one Redis round trip per page, in get_list)."""
    return g.get("hs_watchers", {}).get(model.id) or WatcherStatus(NOT_RUNNING)


def _state_cell(_view: Any, _context: Any, model: Camera, _name: str) -> Markup:
    state = _status(model).state
    return Markup('<span class="badge badge-{}">{}</span>').format(STATE_BADGES.get(state, "dark"), state)


def capture(camera: Camera) -> bytes:
    """A frame of the camera, remembering its size for the offline canvas of the zone editor."""
    jpeg = grab_frame(camera.stream_url, FRAME_TIMEOUT_S)
    try:
        remember_size(redis_client(), camera.id, jpeg_size(jpeg))
    except ValueError as exc:
        log.warning("camera %s: frame size unreadable: %s", camera.id, exc)
    return jpeg


class CameraView(SecureModelView):
    form = CameraForm
    column_list = ("id", "name", "stream_url", "enabled", "watcher", "node", "last_segment", "lag")
    column_labels = {"stream_url": "Stream URL", "watcher": "Watcher", "node": "Node",
                     "last_segment": "Last segment", "lag": "Lag"}
    column_descriptions = {"last_segment": "time since the watcher last processed a segment",
                           "lag": "how far behind live the last segment was processed"}
    column_sortable_list = ("id", "name", "stream_url", "enabled")
    column_searchable_list = ("name", "stream_url")
    column_default_sort = "id"
    column_formatters = {
        "watcher": _state_cell,
        "node": lambda _v, _c, m, _n: _status(m).node or "—",
        "last_segment": lambda _v, _c, m, _n: age_text(_status(m).last_segment_age_s),
        "lag": lambda _v, _c, m, _n: age_text(_status(m).lag_s),
    }
    column_extra_row_actions = [EndpointLinkRowAction("fa fa-camera", ".test_view", title="Test connection")]

    def get_list(self, *args: Any, **kwargs: Any) -> tuple[int | None, list[Camera]]:
        count, rows = super().get_list(*args, **kwargs)
        g.hs_watchers = watcher_statuses(camera.id for camera in rows)
        return count, rows

    def on_model_change(self, form: CameraForm, model: Camera, is_created: bool) -> None:
        """Refuse a second camera on the same stream with a message, not a database error."""
        session = db_session()
        query = select(Camera.id).where(Camera.stream_url == model.stream_url)
        if model.id is not None:
            query = query.where(Camera.id != model.id)
        with session.no_autoflush:
            clash = session.scalar(query)
        if clash is not None:
            raise ValidationError(f"Camera {clash} already watches {model.stream_url}")

    def after_model_delete(self, model: Camera) -> None:
        forget_size(redis_client(), model.id)

    @action("enable", "Enable", "Enable the selected cameras? Their watchers start within a minute.")
    def action_enable(self, ids: list[str]) -> None:
        self._set_enabled(ids, True)

    @action("disable", "Disable", "Disable the selected cameras? Their watchers stop.")
    def action_disable(self, ids: list[str]) -> None:
        self._set_enabled(ids, False)

    def _set_enabled(self, ids: list[str], enabled: bool) -> None:
        camera_ids = row_ids(ids)
        session = db_session()
        session.execute(update(Camera).where(Camera.id.in_(camera_ids)).values(enabled=enabled))
        session.commit()
        log.info("cameras %s %s", camera_ids, "enabled" if enabled else "disabled")
        flash(f"{'Enabled' if enabled else 'Disabled'} {len(camera_ids)} camera(s).", "success")

    @expose("/test/")
    def test_view(self) -> str | Response:
        """Fetch one frame now and show it, or say why none came."""
        camera = db_session().get(Camera, id_arg())
        if camera is None:
            flash("No such camera.", "error")
            return redirect(url_for(".index_view"))
        frame, error, size = None, None, None
        try:
            jpeg = capture(camera)
            frame = base64.b64encode(jpeg).decode()
            size = jpeg_size(jpeg)
        except (SnapshotError, ValueError) as exc:
            error = str(exc)
        return self.render("hypersight/camera_test.html", camera=camera, frame=frame, error=error, size=size)

    @expose("/frame/<int(max=2147483647):camera_id>")
    def frame_view(self, camera_id: int) -> Response | tuple[Response, int]:
        """The camera's current frame as JPEG; when offline, a JSON 502 with the last known size."""
        camera = db_session().get(Camera, camera_id)
        if camera is None:
            abort(404)
        try:
            jpeg = capture(camera)
        except SnapshotError as exc:
            known = last_size(redis_client(), camera_id)
            width, height = known or DEFAULT_SIZE
            return jsonify({"err": True, "msg": f"No frame from the camera: {exc}", "width": width,
                            "height": height, "size_known": known is not None}), 502
        return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})
