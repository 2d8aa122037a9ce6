"""JSON for the admin's own pages (session login, not API tokens) and the browser libraries it serves.

The admin's JavaScript cannot hold an API bearer token, so it reads events and
live counts here, behind the admin login, through the same queries as the API.
hls.js and Chart.js are installed from npm (package.json at the repo root) into
node_modules/ and served from there: nothing is fetched from a CDN at run time.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from flask import Blueprint, Response, jsonify, send_from_directory
from werkzeug.exceptions import NotFound

from server.admin.auth import is_logged_in
from server.api import processors as api_processors
from server.api.errors import ApiError
from server.config import PROJECT_ROOT
from server.extensions import db_session
from server.models import Processor
from server.queries import latest_event, traffic_total
from server.timefmt import format_camera_time, utc_now

log = logging.getLogger(__name__)

NODE_MODULES = PROJECT_ROOT / "node_modules"
# name served -> file under node_modules (package versions pinned in package-lock.json)
VENDOR_FILES = {
    "hls.min.js": "hls.js/dist/hls.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
}
LIVE_WINDOW = timedelta(hours=1)

api_bp = Blueprint("hs_admin_api", __name__, url_prefix="/admin/api")
assets_bp = Blueprint("hs_assets", __name__, url_prefix="/admin/assets", static_folder="static",
                      template_folder="templates")


@api_bp.before_request
def _require_login() -> tuple[Response, int] | None:
    if not is_logged_in():
        return jsonify({"err": True, "msg": "Log in to the admin site first"}), 401
    return None


def _processor(processor_id: int) -> Processor:
    processor = db_session().get(Processor, processor_id)
    if processor is None:
        raise ApiError(f"No processor {processor_id}", 404)
    return processor


@api_bp.get("/processors/<int(max=2147483647):processor_id>/events")
def events(processor_id: int) -> Response:
    """Exactly the API's /api/processors/<id>/events (same arguments, same answers)."""
    return api_processors.events(processor_id)


@api_bp.get("/processors/<int(max=2147483647):processor_id>/live")
def live(processor_id: int) -> Response:
    """The latest count (objects in the zones now) and the entries of the last hour (traffic)."""
    processor = _processor(processor_id)
    session, now, tz = db_session(), utc_now(), processor.camera.tz
    event = latest_event(session, processor.id, now)
    window = traffic_total(session, processor.id, now - LIVE_WINDOW, now)
    return jsonify({
        "err": False,
        "type": processor.type,
        "count": event.value if event else None,
        "ts": format_camera_time(event.ts, tz) if event else None,
        "last_hour": window.total,
        "now": format_camera_time(now, tz),
    })


@assets_bp.get("/vendor/<name>")
def vendor(name: str) -> Response:
    """A browser library from node_modules; a 404 that says how to install it when it is missing."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        raise NotFound()
    path = NODE_MODULES / relative
    if not path.is_file():
        log.error("%s is missing: run `npm ci` in %s", path, PROJECT_ROOT)
        raise NotFound(f"{relative} is not installed: run `npm ci` in the project folder")
    return send_from_directory(Path(path).parent, path.name, mimetype="text/javascript", max_age=3600)
