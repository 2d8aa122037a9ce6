"""Serve the processors' HLS previews at ``/videos/<processor_id>/<file>``.

Only the playlist and its segments are served, from
``PROCESSORS_PREVIEW_DIR/<processor_id>/``, through ``send_from_directory``,
which refuses any path that would leave that folder. Playlists change every
segment, so they are ``no-cache``; segment names are never reused (numbered
from the epoch), so a client may keep them for as long as they can be listed.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from werkzeug.exceptions import NotFound

bp = Blueprint("videos", __name__)

MIME_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}
SEGMENT_MAX_AGE_S = 60


@bp.get("/videos/<int:processor_id>/<path:filename>")
def preview_file(processor_id: int, filename: str) -> Response | tuple[Response, int]:
    """One file of a preview, or a JSON 404 when the preview or the file does not exist."""
    suffix = Path(filename).suffix.lower()
    mimetype = MIME_TYPES.get(suffix)
    if mimetype is None:
        return _not_found()
    directory = Path(current_app.config["PROCESSORS_PREVIEW_DIR"]) / str(processor_id)
    playlist = suffix == ".m3u8"
    try:
        response = send_from_directory(
            directory, filename, mimetype=mimetype, max_age=0 if playlist else SEGMENT_MAX_AGE_S
        )
    except NotFound:
        return _not_found()
    if playlist:
        response.headers["Cache-Control"] = "no-cache"
    return response


def _not_found() -> tuple[Response, int]:
    return jsonify({"err": True, "msg": "No such preview file"}), 404
