"""Engines and sessions, shared by the web app, Celery workers and CLI commands.

Plain SQLAlchemy 2 rather than Flask-SQLAlchemy: watchers run outside any Flask
request, and one small factory serves both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the web app read while a watcher writes; foreign keys are off by default in SQLite."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(uri: str, **kwargs: Any) -> Engine:
    """An engine that survives a database restart (pre-ping) and, for SQLite, uses WAL."""
    if uri.startswith("sqlite"):
        path = uri.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(uri, connect_args={"timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if uri.startswith("postgresql") and "connect_timeout" not in uri:
        # libpq waits for the OS's TCP timeout (minutes) on an unreachable host: a request or a
        # watcher's flush should fail in seconds and retry instead.
        kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(uri, pool_pre_ping=True, pool_recycle=1800, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (API responses read them)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
