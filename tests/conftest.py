"""Shared fixtures: real Redis and PostgreSQL servers; an app, client and session per test on a fresh database."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from server import create_app, migrate
from server.extensions import sessionmaker_of
from tests.support.servers import PostgresServer, redis_server

ROOT = Path(__file__).resolve().parent.parent


def sample_video() -> Path | None:
    """vtest.avi from HYPERSIGHT_SAMPLE_VIDEO, the shared folder beside the checkout, or opencv-doc."""
    candidates = [
        os.environ.get("HYPERSIGHT_SAMPLE_VIDEO", ""),
        str(ROOT.parent / "shared" / "data" / "vtest.avi"),
        "/usr/share/doc/opencv-doc/examples/data/vtest.avi",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def session_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hypersight-tests-") as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)


@pytest.fixture(scope="session")
def redis_url(session_tmp: Path) -> Iterator[str]:
    """URL of a private redis-server for the whole session; tests use their own key names or flush."""
    workdir = session_tmp / "redis"
    workdir.mkdir()
    with redis_server(workdir) as url:
        yield url


@pytest.fixture()
def redis_client(redis_url: str):
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def postgres(session_tmp: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(session_tmp / "postgres")
    server.workdir.mkdir()
    server.init()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database per test, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.createdb("t_" + uuid.uuid4().hex[:12])


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
