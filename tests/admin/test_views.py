"""Cameras, processors, users and watchers through the admin's forms (Flask test client, real Redis)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from server.models import Camera, ObjectsCounter, Processor, TrafficCounter, User
from server.watcher.heartbeat import Heartbeat, lease_key
from server.watcher.lease import GENERATION_KEY, pending_key
from tests.admin.conftest import csrf_token, log_in

CAMERA = {"name": "gate", "stream_url": "rtsp://10.0.0.5/stream1", "watch_fps": "2", "watch_rows": "1",
          "watch_cols": "1", "tz": "3", "enabled": "y"}
SQUARE = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]


def post_form(client, path: str, data: dict, page: str | None = None):
    """Post a form the way a browser does: with the CSRF token of the page it came from."""
    token = csrf_token(client.get(page or path).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


@pytest.fixture()
def admin_db(database_url: str) -> str:
    """The forms on SQLite and on PostgreSQL."""
    return database_url


@pytest.fixture()
def camera(session) -> Camera:
    camera = Camera(name="plaza", stream_url="http://127.0.0.1:9/plaza.m3u8", tz=2)
    session.add(camera)
    session.commit()
    return camera


def test_camera_create_edit_and_validation(client, session):
    assert post_form(client, "/admin/camera/new/", CAMERA).status_code == 302
    created = session.scalars(select(Camera)).one()
    assert (created.name, created.stream_url, created.watch_fps, created.tz, created.enabled) == \
        ("gate", "rtsp://10.0.0.5/stream1", 2.0, 3.0, True)
    refused = post_form(client, "/admin/camera/new/", {**CAMERA, "watch_fps": "0"}).get_data(as_text=True)
    assert "greater than 0" in refused
    duplicate = post_form(client, "/admin/camera/new/", CAMERA).get_data(as_text=True)
    assert f"Camera {created.id} already watches rtsp://10.0.0.5/stream1" in duplicate
    assert session.query(Camera).count() == 1
    edit = f"/admin/camera/edit/?id={created.id}"
    assert post_form(client, edit, {**CAMERA, "name": "north gate", "enabled": ""}).status_code == 302
    session.expire_all()
    assert (created.name, created.enabled) == ("north gate", False)


def test_camera_enable_disable_and_delete(client, session, camera):
    def act(action: str):
        return post_form(client, "/admin/camera/action/", {"action": action, "rowid": str(camera.id)},
                         page="/admin/camera/")

    assert act("disable").status_code == 302
    session.expire_all()
    assert camera.enabled is False
    # Ids no database holds, among real ones, are left out rather than failing the action.
    odd = post_form(client, "/admin/camera/action/", {"action": "enable",
                                                      "rowid": ["9" * 30, "\u00b2", str(camera.id)]},
                    page="/admin/camera/")
    assert odd.status_code == 302
    session.expire_all()
    assert camera.enabled is True
    act("disable")
    act("enable")
    session.expire_all()
    assert camera.enabled is True
    post_form(client, "/admin/camera/delete/", {"id": str(camera.id)}, page="/admin/camera/")
    session.expire_all()
    assert session.query(Camera).count() == 0


def test_camera_list_shows_each_watchers_heartbeat(client, session, camera, redis_client):
    idle = Camera(name="idle", stream_url="http://127.0.0.1:9/idle.m3u8")
    session.add(idle)
    session.commit()
    now = time.time()
    beat = Heartbeat(camera_id=camera.id, node="worker-7", pid=4242, state="streaming",
                     last_segment_at=now - 3, updated_at=now - 1)
    redis_client.set(lease_key(camera.id), beat.to_json(), ex=30)
    page = client.get("/admin/camera/").get_data(as_text=True)
    assert "badge-success\">streaming" in page
    assert "worker-7" in page
    assert "not running" in page
    watchers = client.get("/admin/watchers/").get_data(as_text=True)
    assert "worker-7" in watchers and "4242" in watchers and "not running" in watchers


def test_processor_form_makes_the_chosen_type_and_validates_zones(client, session, camera):
    base = {"camera_id": str(camera.id), "type": "traffic", "threshold": "0.4", "anchor": "center",
            "classes": "0, 2", "enabled": "y", "output_hls": "y"}
    refused = post_form(client, "/admin/processor/new/", {**base, "zones": json.dumps([SQUARE[:2]])})
    assert "zone 0 must have 3 to 200 points, has 2" in refused.get_data(as_text=True)
    outside = post_form(client, "/admin/processor/new/", {**base, "zones": json.dumps([[[0, 0], [2, 0], [0, 1]]])})
    assert "outside 0..1" in outside.get_data(as_text=True)
    assert session.query(Processor).count() == 0
    assert post_form(client, "/admin/processor/new/", {**base, "zones": json.dumps([SQUARE])}).status_code == 302
    processor = session.scalars(select(Processor)).one()
    assert isinstance(processor, TrafficCounter)
    assert (processor.zones, processor.threshold, processor.anchor, processor.classes, processor.output_hls) == \
        ([SQUARE], 0.4, "center", [0, 2], True)


def test_processor_edit_keeps_its_type(client, session, camera):
    processor = ObjectsCounter(camera_id=camera.id, zones=[SQUARE])
    session.add(processor)
    session.commit()
    edit = f"/admin/processor/edit/?id={processor.id}"
    form = {"camera_id": str(camera.id), "type": "face", "threshold": "0.7", "anchor": "bottom_center",
            "classes": "0", "zones": "[]", "enabled": "y"}
    assert post_form(client, edit, form).status_code == 302
    session.expire_all()
    stored = session.get(Processor, processor.id)
    assert (stored.type, stored.threshold, stored.zones) == ("object", 0.7, [])


def test_users_made_in_the_site_have_hashed_passwords(client, session, app):
    form = {"username": "night-shift", "password": "hunter22hunter", "active": "y"}
    refused = post_form(client, "/admin/user/new/", {**form, "password": ""})
    assert "This field is required" in refused.get_data(as_text=True)
    assert post_form(client, "/admin/user/new/", form).status_code == 302
    user = session.scalars(select(User).where(User.username == "night-shift")).one()
    assert "hunter22hunter" not in user.password_hash
    assert user.check_password("hunter22hunter")
    assert log_in(app.test_client(), "night-shift", "hunter22hunter").status_code == 302
    # Editing without a password keeps it.
    post_form(client, f"/admin/user/edit/?id={user.id}", {"username": "night-shift", "password": ""})
    session.expire_all()
    assert user.check_password("hunter22hunter") and user.active is False


def test_operator_cannot_delete_themself(client, session, operator):
    post_form(client, "/admin/user/delete/", {"id": str(operator.id)}, page="/admin/user/")
    assert "You cannot delete yourself" in client.get("/admin/user/").get_data(as_text=True)
    assert session.get(User, operator.id) is not None


def test_restart_watchers_bumps_the_generation_and_lets_beat_start_new_ones(client, session, redis_client):
    session.add_all([Camera(stream_url="http://127.0.0.1:9/a.m3u8"),
                     Camera(stream_url="http://127.0.0.1:9/b.m3u8", enabled=False)])
    session.commit()
    ids = [c.id for c in session.scalars(select(Camera).order_by(Camera.id))]
    for camera_id in ids:  # watchers queued earlier: their marks must not hold the new ones back
        redis_client.set(pending_key(camera_id), "1", ex=60)
    answer = post_form(client, "/admin/watchers/restart", {}, page="/admin/watchers/")
    assert answer.status_code == 302
    assert redis_client.get(GENERATION_KEY) == "1"
    assert not any(redis_client.exists(pending_key(camera_id)) for camera_id in ids)
    # Nothing is queued beside the running watchers: ensure_watchers starts the new ones.
    assert redis_client.llen("watchers") == 0
    assert "Asked every watcher to stop" in client.get("/admin/watchers/").get_data(as_text=True)
