"""An app per test on a fresh database (SQLite and PostgreSQL) with the real schema migrations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from server import create_app, migrate
from server.extensions import sessionmaker_of
from server.models import Camera, ObjectsCounter, ProcessorEvent, TrafficCounter


@pytest.fixture()
def app_factory(database_url: str, redis_url: str, tmp_path) -> Callable[..., Flask]:
    def build(**overrides) -> Flask:
        config = {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "PROCESSORS_PREVIEW_DIR": str(tmp_path / "previews"),
            **overrides,
        }
        app = create_app(config)
        migrate.upgrade(sessionmaker_of(app).kw["bind"])
        return app

    return build


@pytest.fixture()
def app(app_factory) -> Iterator[Flask]:
    app = app_factory()
    yield app
    sessionmaker_of(app).kw["bind"].dispose()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def session(app: Flask) -> Iterator[Session]:
    with sessionmaker_of(app)() as session:
        yield session


@pytest.fixture()
def camera_with_processors(session: Session) -> Callable[..., tuple[Camera, TrafficCounter, ObjectsCounter]]:
    """A camera (tz hours from UTC) with a traffic and an objects processor, no events."""

    def make(tz: float = 0.0, url: str = "http://127.0.0.1/cam.m3u8"):
        camera = Camera(name="plaza", stream_url=url, tz=tz)
        traffic = TrafficCounter()
        objects = ObjectsCounter()
        camera.processors = [traffic, objects]
        session.add(camera)
        session.commit()
        return camera, traffic, objects

    return make


def add_events(session: Session, processor_id: int, rows: list[tuple[str, int]]) -> None:
    """Insert events straight into processor_event; timestamps are naive UTC strings."""
    for ts, value in rows:
        session.add(ProcessorEvent(processor_id=processor_id, ts=datetime.fromisoformat(ts), value=value))
    session.commit()
