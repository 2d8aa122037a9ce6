"""flask --app server init-db / create-user, run through Flask's CLI runner on both databases."""

from __future__ import annotations

from sqlalchemy import select

from server import create_app
from server.extensions import sessionmaker_of
from server.models import Camera, User


def _app(database_url: str, redis_url: str):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url})


def test_init_db_creates_then_keeps_data(database_url, redis_url):
    app = _app(database_url, redis_url)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    assert "camera, processor, processor_event, user" in first.output
    with sessionmaker_of(app)() as session:
        session.add(Camera(stream_url="rtsp://127.0.0.1/cam"))
        session.commit()
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0, again.output
    with sessionmaker_of(app)() as session:
        assert session.scalars(select(Camera.stream_url)).all() == ["rtsp://127.0.0.1/cam"]


def test_init_db_drop_asks_and_deletes_only_when_confirmed(database_url, redis_url):
    app = _app(database_url, redis_url)
    runner = app.test_cli_runner()
    runner.invoke(args=["init-db"])
    with sessionmaker_of(app)() as session:
        session.add(Camera(stream_url="rtsp://127.0.0.1/cam"))
        session.commit()
    refused = runner.invoke(args=["init-db", "--drop"], input="n\n")
    assert refused.exit_code != 0
    with sessionmaker_of(app)() as session:
        assert session.scalars(select(Camera)).all() != []
    dropped = runner.invoke(args=["init-db", "--drop", "--yes"])
    assert dropped.exit_code == 0, dropped.output
    with sessionmaker_of(app)() as session:
        assert session.scalars(select(Camera)).all() == []


def test_create_user_stores_a_hash(database_url, redis_url):
    app = _app(database_url, redis_url)
    runner = app.test_cli_runner()
    runner.invoke(args=["init-db"])
    result = runner.invoke(args=["create-user", "admin", "--password", "correct horse"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["create-user", "admin", "--password", "battery staple"])
    assert "Updated password" in again.output
    with sessionmaker_of(app)() as session:
        user = session.scalars(select(User)).one()
    assert "battery staple" not in user.password_hash
    assert user.check_password("battery staple") and not user.check_password("correct horse")


def test_add_demo_camera(database_url, redis_url):
    app = _app(database_url, redis_url)
    runner = app.test_cli_runner()
    runner.invoke(args=["init-db"])
    result = runner.invoke(args=["add-demo-camera", "http://127.0.0.1:8000/live.m3u8"])
    assert result.exit_code == 0, result.output
    assert "traffic processor" in result.output and "object processor" in result.output
    # Running it again finds the same camera instead of failing on the unique URL.
    assert runner.invoke(args=["add-demo-camera", "http://127.0.0.1:8000/live.m3u8"]).output == result.output
