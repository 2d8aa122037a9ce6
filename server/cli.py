"""Commands of ``flask --app server``: schema, users, demo data."""

from __future__ import annotations

import json
import logging

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from server import migrate
from server.extensions import sessionmaker_of
from server.models import Camera, ObjectsCounter, TrafficCounter, User
from server.models.processor import FaceDetector

log = logging.getLogger(__name__)

# Zones that suit the sample video: a vertical band people cross, and the lower part of the plaza.
DEMO_BAND = [[0.40, 0.0], [0.50, 0.0], [0.50, 1.0], [0.40, 1.0]]
DEMO_LOWER_PART = [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]


@click.command("init-db")
@with_appcontext
@click.option("--drop", is_flag=True, help="Delete every table and all data first (asks to confirm).")
@click.option("--yes", is_flag=True, help="With --drop: do not ask.")
def init_db(drop: bool, yes: bool) -> None:
    """Create the schema on an empty database, or upgrade it; never deletes data without --drop."""
    engine = sessionmaker_of(current_app).kw["bind"]
    if drop:
        if not yes:
            click.confirm(f"Delete all data in {engine.url.render_as_string()}?", abort=True)
        migrate.drop_everything(engine)
        click.echo("Dropped every table.")
    migrate.upgrade(engine)
    click.echo(f"Schema is up to date ({', '.join(migrate.existing_tables(engine))}).")


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.password_option(help="Asked for when not given.")
def create_user(username: str, password: str) -> None:
    """Create an admin user, or set a new password for an existing one."""
    with sessionmaker_of(current_app)() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        created = user is None
        if user is None:
            user = User(username=username)
            session.add(user)
        user.set_password(password)
        session.commit()
    click.echo(f"{'Created' if created else 'Updated password of'} user {username}.")


@click.command("add-demo-camera")
@with_appcontext
@click.argument("stream_url")
@click.option("--name", default="Demo plaza")
@click.option("--fps", default=2.0, show_default=True)
@click.option("--tz", default=0.0, show_default=True, help="Hours from UTC of the camera's local time.")
@click.option("--json", "as_json", is_flag=True, help="Print the ids as JSON.")
def add_demo_camera(stream_url: str, name: str, fps: float, tz: float, as_json: bool) -> None:
    """A camera with traffic (a band across the middle, with a preview), objects and face processors.

    The zones suit the sample video (people crossing a plaza); idempotent per URL.
    """
    with sessionmaker_of(current_app)() as session:
        camera = session.scalars(select(Camera).where(Camera.stream_url == stream_url)).first()
        if camera is None:
            camera = Camera(name=name, stream_url=stream_url, watch_fps=fps, tz=tz)
            camera.processors = [
                TrafficCounter(zones=[DEMO_BAND], threshold=0.3, output_hls=True),
                ObjectsCounter(zones=[DEMO_LOWER_PART], threshold=0.3),
                FaceDetector(zones=[DEMO_LOWER_PART], threshold=0.5),
            ]
            session.add(camera)
            session.commit()
        ids = {"camera": camera.id, **{p.type: p.id for p in camera.processors}}
    if as_json:
        click.echo(json.dumps(ids))
    else:
        processors = ", ".join(f"{kind} processor {pid}" for kind, pid in ids.items() if kind != "camera")
        click.echo(f"camera {ids['camera']}: {processors}")


def register(app: Flask) -> None:
    for command in (init_db, create_user, add_demo_camera):
        app.cli.add_command(command)
