"""A lost database connection is a clear 503, and the app recovers when the database returns.

Also the real entry point: gunicorn serving ``server:create_app()`` over HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from server import create_app, migrate
from server.extensions import sessionmaker_of
from server.models import Camera, ObjectsCounter
from tests.api.conftest import add_events
from tests.support.servers import PostgresServer, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_database_restart_is_503_then_recovers(session_tmp, redis_url):
    workdir = session_tmp / "pg-restart"
    workdir.mkdir()
    server = PostgresServer(workdir)
    server.init()
    server.start()
    try:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": server.url, "REDIS_URL": redis_url})
        migrate.upgrade(sessionmaker_of(app).kw["bind"])
        with sessionmaker_of(app)() as session:
            camera = Camera(stream_url="http://127.0.0.1/x.m3u8", processors=[ObjectsCounter()])
            session.add(camera)
            session.commit()
            processor_id = camera.processors[0].id
            add_events(session, processor_id, [("2020-03-27 10:00:00", 6)])
        client = app.test_client()
        ask = {"proc_id": processor_id, "ts": "2020-03-27 11:00:00"}
        assert client.post("/objects", json=ask).get_json()["count"] == 6

        server.stop()
        down = client.post("/objects", json=ask)
        assert down.status_code == 503
        assert down.get_json() == {"err": True, "msg": "Database unavailable, try again"}
        health = client.get("/health")
        assert health.status_code == 503 and health.get_json()["database"] is False

        server.start()
        assert client.post("/objects", json=ask).get_json()["count"] == 6
    finally:
        server.stop()


def test_gunicorn_serves_the_app_over_http(tmp_path, redis_url):
    db = tmp_path / "http.db"
    env = {**os.environ, "HYPERSIGHT_SQLALCHEMY_DATABASE_URI": f"sqlite:///{db}",
           "HYPERSIGHT_REDIS_URL": redis_url, "HYPERSIGHT_SECRET_KEY": "a-test-secret-key-of-some-length",
           "HYPERSIGHT_API_TOKENS": '["t0ken"]'}
    subprocess.run([sys.executable, "-m", "flask", "--app", "server", "init-db"], env=env, check=True, cwd=ROOT)
    port = free_port()
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "server:create_app()"], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc=gunicorn)
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/health", timeout=10).json()["ok"] is True
        auth = {"Authorization": "Bearer t0ken"}
        assert requests.get(f"{base}/api/cameras", timeout=10).status_code == 401
        created = requests.post(f"{base}/api/cameras", json={"stream_url": "rtsp://127.0.0.1/c"}, headers=auth,
                                timeout=10)
        assert created.status_code == 201
        processor = requests.post(f"{base}/api/processors", headers=auth, timeout=10,
                                  json={"camera_id": created.json()["id"], "type": "traffic"}).json()
        answer = requests.post(f"{base}/traffic", headers=auth, timeout=10,
                               json={"proc_id": processor["id"], "start_ts": "2020-03-27 00:00:00.0"})
        assert answer.json() == {"err": True, "msg": "No records found"}
        garbage = requests.post(f"{base}/traffic", headers=auth, data=b"\x00\x01", timeout=10)
        assert garbage.status_code == 400 and garbage.json()["err"] is True
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=20)


def test_refuses_to_start_without_secret_key(tmp_path, redis_url):
    env = {key: value for key, value in os.environ.items() if not key.startswith("HYPERSIGHT_")}
    env["HYPERSIGHT_SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "server", "init-db"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "Traceback" not in result.stderr
