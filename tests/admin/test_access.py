"""Every admin page and action needs a login; every POST needs the CSRF token; cookies are hardened."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from server.admin.api import NODE_MODULES
from server.models import Camera, ObjectsCounter, User
from server.watcher.lease import GENERATION_KEY
from tests.admin.conftest import PASSWORD, USERNAME, csrf_token, log_in

# Pages that render for a logged-in operator (ids 1 exist: see the seeded fixture).
PAGES = [
    "/admin/", "/admin/camera/", "/admin/camera/new/", "/admin/camera/edit/?id=1",
    "/admin/camera/test/?id=1", "/admin/processor/", "/admin/processor/new/",
    "/admin/processor/new/?camera_id=1", "/admin/processor/edit/?id=1", "/admin/processor/preview/?id=1",
    "/admin/processor/events/?id=1", "/admin/watchers/", "/admin/user/", "/admin/user/new/",
    "/admin/user/edit/?id=1",
]
ACTIONS = [
    ("post", "/admin/camera/new/"), ("post", "/admin/camera/delete/"), ("post", "/admin/camera/action/"),
    ("post", "/admin/processor/new/"), ("post", "/admin/user/new/"), ("post", "/admin/watchers/restart"),
    ("get", "/admin/camera/frame/1"),
]


@pytest.fixture()
def seeded(session, operator):
    """Camera 1 (an unreachable stream) with object processor 1."""
    camera = Camera(name="gate", stream_url="http://127.0.0.1:9/none.m3u8")
    camera.processors = [ObjectsCounter(zones=[[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]])]
    session.add(camera)
    session.commit()
    return camera


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_login_and_back(app, seeded, path):
    answer = app.test_client().get(path)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/admin/login"
    assert parse_qs(location.query)["next"] == [path.rstrip("?")]


@pytest.mark.parametrize("path", PAGES)
def test_logged_in_operator_sees_every_page(client, seeded, path):
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert f"{USERNAME}</span>" in answer.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), ACTIONS)
def test_anonymous_actions_are_refused(app, seeded, redis_client, method, path):
    anonymous = app.test_client()
    token = csrf_token(anonymous.get("/admin/login").get_data(as_text=True))
    answer = getattr(anonymous, method)(path, data={"csrf_token": token, "stream_url": "http://x/y.m3u8",
                                                    "id": "1", "action": "disable", "rowid": "1"})
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/admin/login"
    assert redis_client.get(GENERATION_KEY) is None


def test_admin_json_needs_login_even_where_the_api_needs_a_token(admin_factory, redis_client, session, seeded):
    app = admin_factory(API_TOKENS=["s3cret"])
    anonymous = app.test_client()
    assert anonymous.get("/admin/api/processors/1/live").status_code == 401
    log_in(anonymous)
    events = anonymous.get("/admin/api/processors/1/events?bucket=hour")
    assert events.status_code == 200
    assert events.get_json()["err"] is False
    # The bearer-token API itself is untouched by the session.
    assert anonymous.get("/api/processors/1/events").status_code == 401


@pytest.mark.parametrize("path", ["/admin/login", "/admin/camera/new/", "/admin/watchers/restart",
                                  "/admin/logout", "/admin/camera/delete/"])
def test_post_without_csrf_token_is_refused(client, seeded, session, redis_client, path):
    answer = client.post(path, data={"username": USERNAME, "password": PASSWORD, "id": "1",
                                     "stream_url": "http://127.0.0.1/new.m3u8", "watch_fps": "1",
                                     "watch_rows": "1", "watch_cols": "1", "tz": "0"})
    assert answer.status_code == 400
    assert "CSRF" in answer.get_json()["msg"]
    assert session.query(Camera).count() == 1
    assert redis_client.get(GENERATION_KEY) is None
    assert client.get("/admin/").status_code == 200  # still logged in


def test_wrong_password_and_inactive_user_are_refused(app, session, operator):
    visitor = app.test_client()
    refused = log_in(visitor, password="wrong password")
    assert refused.status_code == 200
    assert "Wrong user name or password" in refused.get_data(as_text=True)
    assert visitor.get("/admin/").status_code == 302
    operator.active = False
    session.commit()
    assert log_in(visitor).status_code == 200
    assert visitor.get("/admin/").status_code == 302



def test_deactivated_user_loses_the_session_at_the_next_request(client, session, operator):
    """The `client` fixture logged in through the real form; deactivating the user ends that session."""
    assert client.get("/admin/camera/").status_code == 200
    operator.active = False
    session.commit()
    answer = client.get("/admin/camera/")
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/admin/login"
    assert client.get("/admin/api/processors/1/live").status_code == 401


@pytest.mark.parametrize("path", ["/admin/processor/preview/?id=99999999999999999999",
                                  "/admin/processor/events/?id=2147483648", "/admin/camera/test/?id=-1",
                                  "/admin/camera/test/?id=99999999999999999999"])
def test_an_id_beyond_32_bits_in_the_query_is_no_such_row(client, seeded, path):
    """Like an out-of-range id in an API path: it names nothing (before, SQLite overflowed: a 500)."""
    answer = client.get(path, follow_redirects=True)
    assert answer.status_code == 200
    assert "No such" in answer.get_data(as_text=True)


def test_an_id_beyond_32_bits_in_the_frame_path_is_404(client, seeded):
    answer = client.get("/admin/camera/frame/99999999999999999999")
    assert answer.status_code == 404 and answer.get_json()["err"] is True

def test_login_returns_to_the_page_asked_for_but_never_to_another_site(app, operator):
    visitor = app.test_client()
    token = csrf_token(visitor.get("/admin/login").get_data(as_text=True))
    for target, expected in [("/admin/watchers/", "/admin/watchers/"), ("https://evil.example/", "/admin/"),
                             ("//evil.example/x", "/admin/")]:
        answer = visitor.post("/admin/login", data={"username": USERNAME, "password": PASSWORD,
                                                    "csrf_token": token, "next": target})
        assert answer.headers["Location"] == expected


def test_logout_ends_the_session(client):
    token = csrf_token(client.get("/admin/").get_data(as_text=True))
    answer = client.post("/admin/logout", data={"csrf_token": token})
    assert urlsplit(answer.headers["Location"]).path == "/admin/login"
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(("mode", "secure"), [({"TESTING": True}, False), ({"DEVELOPMENT": True}, False),
                                              ({"SECRET_KEY": "x" * 32}, True)])
def test_session_cookie_flags(admin_factory, redis_client, mode, secure):
    app = admin_factory(**{"TESTING": False, **mode})
    with app.app_context():
        from server.extensions import db_session

        user = User(username=USERNAME)
        user.set_password(PASSWORD)
        db_session().add(user)
        db_session().commit()
    visitor = app.test_client()
    cookie = visitor.get("/admin/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure
    assert app.config["SESSION_COOKIE_SECURE"] is secure


def test_browser_libraries_are_served_from_node_modules(app):
    if not (NODE_MODULES / "hls.js").is_dir():
        pytest.skip("node_modules is not installed: run `npm ci` (package.json pins hls.js and chart.js)")
    visitor = app.test_client()
    for name, marker in [("hls.min.js", b"Hls"), ("chart.umd.min.js", b"Chart")]:
        answer = visitor.get(f"/admin/assets/vendor/{name}")
        assert answer.status_code == 200 and answer.mimetype == "text/javascript"
        assert marker in answer.data
    assert visitor.get("/admin/assets/vendor/left-pad.js").status_code == 404
