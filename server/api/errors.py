"""One JSON error shape, ``{"err": true, "msg": ...}``, for everything the API refuses.

Handlers here turn every failure a client can provoke into a 4xx, and the
failures of our own dependencies (database, Redis) into a 503 that says which,
so that no request body or query ever yields an HTML 500 page. A value the
database refuses (DataError: out of range, NUL in text) came from the client:
validation should have caught it, and if it did not, it is still a 400.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the API refuses, with the status and the message the client sees."""

    def __init__(self, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.msg = msg
        self.status = status


def error_response(msg: str, status: int) -> tuple[Response, int]:
    return jsonify({"err": True, "msg": msg}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.msg, exc.status)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error_response(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError):
        log.error("database unavailable: %s", exc.orig)
        return error_response("Database unavailable, try again", 503)

    @app.errorhandler(DataError)
    def _data_refused(exc: DataError):
        # A warning, not an error: nothing of ours is broken, but validation let the value through.
        log.warning("the database refused a value of the request: %s", exc.orig)
        return error_response("The database refused a value of the request", 400)

    @app.errorhandler(redis.RedisError)
    def _redis_down(exc: redis.RedisError):
        log.error("redis unavailable: %s", exc)
        return error_response("Redis unavailable, try again", 503)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.error("unhandled error", exc_info=exc)
        return error_response("Internal error", 500)
