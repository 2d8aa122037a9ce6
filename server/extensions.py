"""Per-app resources: the database sessionmaker and the Redis client.

Kept in ``app.extensions`` (the Flask habit) so that nothing is created at import
time and every test gets its own.
"""

from __future__ import annotations

import redis
from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from server.db import make_engine, make_sessionmaker

DB_KEY = "hypersight.sessionmaker"
REDIS_KEY = "hypersight.redis"


def init_extensions(app: Flask) -> None:
    engine = make_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    app.extensions[DB_KEY] = make_sessionmaker(engine)
    # Short timeouts: a web request must answer "Redis unavailable" rather than hang.
    app.extensions[REDIS_KEY] = redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )
    app.teardown_appcontext(_close_session)


def sessionmaker_of(app: Flask) -> sessionmaker[Session]:
    return app.extensions[DB_KEY]


def db_session() -> Session:
    """The session of the current request, closed when the app context ends."""
    if "db_session" not in g:
        g.db_session = sessionmaker_of(current_app)()
    return g.db_session


def redis_client() -> redis.Redis:
    return current_app.extensions[REDIS_KEY]


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
