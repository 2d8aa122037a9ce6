"""The HTTP side of the detector service: Flask app factory and the protocol's endpoints.

``POST /detect`` (objects, optionally a mosaic described by ``X-Grid``), ``POST /faces``,
``GET /health``, ``GET /metrics``. Every error is a JSON ``{"err": true, "msg": ...}``
with a 4xx status for what the client sent and a 500 for a bug; no request can stop
the service.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from detector_client.mosaic import split_mosaic, tile_to_mosaic_rel
from detector_service.backends import create_backend
from detector_service.backends.base import DetectorBackend
from detector_service.imaging import BadImage, decode_jpeg, parse_grid
from detector_service.metrics import ServiceMetrics
from detector_service.settings import ServiceSettings, settings_from_env

logger = logging.getLogger(__name__)

bp = Blueprint("detector", __name__)
EXTENSION_KEY = "hypersight_detector"
BLACK_TILE_MAX = 8
"""A tile whose brightest value is at most this is the client's black padding: not inferred."""
BLACK_TILE_MARGIN_PX = 4
"""JPEG chroma upsampling bleeds a neighbour tile's colour into a tile's first pixels: ignored."""


def is_padding_tile(tile: np.ndarray) -> bool:
    """Whether a tile is black (the padding of a partial batch), looking past its bleeding edge."""
    m = BLACK_TILE_MARGIN_PX
    inner = tile[m:-m, m:-m] if min(tile.shape[:2]) > 2 * m else tile
    return int(inner.max()) <= BLACK_TILE_MAX


class DetectorState:
    """What the endpoints share: settings, backend, metrics."""

    def __init__(self, settings: ServiceSettings, backend: DetectorBackend) -> None:
        self.settings = settings
        self.backend = backend
        self.metrics = ServiceMetrics()


def _state() -> DetectorState:
    return current_app.extensions[EXTENSION_KEY]


def _error(message: str, status: int) -> tuple[Response, int]:
    return jsonify(err=True, msg=message), status


def _detections_json(dets: np.ndarray) -> list[list[float]]:
    """``N x 6`` array -> JSON rows, coordinates and scores rounded, class ids as ints."""
    return [[*(round(float(v), 5) for v in row[:5]), int(row[5])] for row in dets]


@bp.post("/detect")
def detect() -> Any:
    """Objects in a JPEG (a mosaic when ``X-Grid`` says so), coordinates relative to the whole image."""
    state = _state()
    grid = parse_grid(request.headers.get("X-Grid"), state.settings.max_grid_side)
    image = decode_jpeg(request.get_data(cache=False), state.settings.max_pixels)
    try:
        tiles = split_mosaic(image, grid)
    except ValueError as exc:
        raise BadImage(str(exc)) from exc
    # A partial batch arrives padded with black tiles: inferring them would only cost time.
    indices = [i for i, tile in enumerate(tiles) if not is_padding_tile(tile)]
    state.metrics.images.labels("detect").inc(len(indices))
    per_tile = state.backend.detect([tiles[i] for i in indices]) if indices else []
    dets = [tile_to_mosaic_rel(d, grid, i) for i, d in zip(indices, per_tile, strict=True)]
    return jsonify(_detections_json(np.concatenate(dets) if dets else np.zeros((0, 6))))


@bp.post("/faces")
def faces() -> Any:
    """Faces in a JPEG crop: ``{"boxes": [[x1, y1, x2, y2], ...], "conf": [...]}`` in pixels."""
    state = _state()
    image = decode_jpeg(request.get_data(cache=False), state.settings.max_pixels)
    state.metrics.images.labels("faces").inc()
    found = state.backend.detect_faces(image)
    return jsonify(boxes=[[round(float(v), 1) for v in row[:4]] for row in found],
                   conf=[round(float(row[4]), 4) for row in found])


@bp.get("/health")
def health() -> Any:
    """Backend, model and device: enough for an operator to see what answers."""
    return jsonify(status="ok", pid=os.getpid(), **_state().backend.info())


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition."""
    return Response(_state().metrics.exposition(), mimetype="text/plain; version=0.0.4")


@bp.before_app_request
def _start_timer() -> None:
    g.started_s = time.perf_counter()


@bp.after_app_request
def _record(response: Response) -> Response:
    endpoint = request.endpoint.rsplit(".", 1)[-1] if request.endpoint else "unknown"
    if endpoint != "metrics":
        elapsed = time.perf_counter() - g.get("started_s", time.perf_counter())
        _state().metrics.observe(endpoint, response.status_code, elapsed)
    return response


def _handle_bad_image(exc: BadImage) -> tuple[Response, int]:
    logger.info("refused %s %s: %s", request.method, request.path, exc)
    return _error(str(exc), exc.status)


def _handle_http(exc: HTTPException) -> tuple[Response, int]:
    return _error(exc.description or exc.name, exc.code or 500)


def _handle_unexpected(exc: Exception) -> tuple[Response, int]:
    logger.error("error while answering %s %s", request.method, request.path, exc_info=exc)
    return _error(f"internal error: {type(exc).__name__}", 500)


def create_app(backend: str | None = None, model: str | None = None, *,
               settings: ServiceSettings | None = None, **overrides: Any) -> Flask:
    """Build the service: settings from ``HYPERSIGHT_DETECTOR_*`` then the arguments, backend loaded.

    ``gunicorn 'detector_service:create_app()'`` takes everything from the environment;
    ``create_app(backend="onnx", model="yolo11n.onnx", score_threshold=0.3)`` overrides it.
    """
    base = settings or settings_from_env(os.environ)
    settings = base.with_overrides(backend=backend, model=model, **overrides)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.extensions[EXTENSION_KEY] = DetectorState(settings, create_backend(settings))
    app.register_blueprint(bp)
    app.register_error_handler(BadImage, _handle_bad_image)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)
    logger.info("detector service ready: %s", app.extensions[EXTENSION_KEY].backend.info())
    return app
