"""The HTTP API: metric queries of the original clients, CRUD, health."""

from __future__ import annotations

import importlib
import logging

from flask import Blueprint, Flask, jsonify
from sqlalchemy import text

from server.api import cameras, metrics, processors
from server.api.errors import register_error_handlers
from server.extensions import db_session, redis_client

log = logging.getLogger(__name__)
health_bp = Blueprint("health", __name__)


@health_bp.get("/health")
def health():
    """Liveness for load balancers: 200 while the database answers; Redis reported beside it."""
    checks = {"database": _check(lambda: db_session().execute(text("SELECT 1"))),
              "redis": _check(lambda: redis_client().ping())}
    status = 200 if checks["database"] else 503
    return jsonify({"ok": status == 200, **checks}), status


def _check(probe) -> bool:
    try:
        probe()
    except Exception as exc:  # any failure of a dependency is "down", never a 500
        log.warning("health check failed: %s", exc)
        return False
    return True


def register_api(app: Flask) -> None:
    register_error_handlers(app)
    for blueprint in (health_bp, metrics.bp, cameras.bp, processors.bp):
        app.register_blueprint(blueprint)
    _register_optional(app, "server.api.videos")


def _register_optional(app: Flask, module_name: str) -> None:
    """Blueprints of parts that may not be installed in every deployment (e.g. previews)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return
    app.register_blueprint(module.bp)
