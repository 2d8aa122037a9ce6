"""Admin fixtures: an app on a fresh database with a logged-in operator, a test HLS stream, a live server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from server import create_app, migrate
from server.extensions import sessionmaker_of
from server.models import User
from tests.admin.browser import fresh_profile, start_chromium
from tests.support.streams import StaticServer

USERNAME, PASSWORD = "operator", "correct horse battery"
STREAM_SIZE = (320, 180)
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "no csrf_token on the page"
    return match.group(1) or match.group(2)


@pytest.fixture()
def admin_db(tmp_path: Path) -> str:
    """SQLite by default; a test module overrides it with ``database_url`` to run on PostgreSQL too."""
    return f"sqlite:///{tmp_path / 'admin.db'}"


@pytest.fixture()
def admin_factory(admin_db: str, tmp_path: Path, redis_url: str) -> Iterator[Callable[..., Flask]]:
    """Apps on a fresh database with the real migrations; disposed of at the end."""
    apps: list[Flask] = []

    def build(**overrides) -> Flask:
        config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": admin_db,
                  "REDIS_URL": redis_url, "PROCESSORS_PREVIEW_DIR": str(tmp_path / "previews"), **overrides}
        app = create_app(config)
        migrate.upgrade(sessionmaker_of(app).kw["bind"])
        apps.append(app)
        return app

    yield build
    for app in apps:
        sessionmaker_of(app).kw["bind"].dispose()


@pytest.fixture()
def app(admin_factory, redis_client) -> Flask:
    """Redis is flushed first (redis_client), so heartbeats and keys of other tests are gone."""
    return admin_factory()


@pytest.fixture()
def session(app: Flask) -> Iterator[Session]:
    with sessionmaker_of(app)() as session:
        yield session


@pytest.fixture()
def operator(session: Session) -> User:
    user = User(username=USERNAME)
    user.set_password(PASSWORD)
    session.add(user)
    session.commit()
    return user


def log_in(client: FlaskClient, username: str = USERNAME, password: str = PASSWORD):
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.fixture()
def client(app: Flask, operator: User) -> FlaskClient:
    """A test client logged in as the operator."""
    client = app.test_client()
    answer = log_in(client)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


@pytest.fixture(scope="session")
def test_stream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    """A small VOD HLS stream (ffmpeg's testsrc, 320x180) and an MP4 of it, served on loopback."""
    folder = tmp_path_factory.mktemp("stream")
    source = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
              "-i", f"testsrc=size={STREAM_SIZE[0]}x{STREAM_SIZE[1]}:rate=10", "-t", "3",
              "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p"]
    subprocess.run([*source, "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                    str(folder / "stream.m3u8")], check=True, timeout=60)
    subprocess.run([*source, str(folder / "clip.mp4")], check=True, timeout=60)
    server = StaticServer(folder).start()
    yield server
    server.stop()


class LiveServer:
    """The app served by werkzeug on a free loopback port in a thread, as a browser sees it."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture()
def live_server(app: Flask, operator: User) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests leave their screenshots (HYPERSIGHT_ADMIN_SCREENSHOTS keeps them)."""
    kept = os.environ.get("HYPERSIGHT_ADMIN_SCREENSHOTS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("admin-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session (fresh profile); each test starts logged out."""
    profile = fresh_profile()
    driver = start_chromium(profile)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def browser(chromium: Any, live_server: LiveServer) -> Any:
    chromium.get(live_server.url + "/admin/login")
    chromium.delete_all_cookies()
    return chromium
