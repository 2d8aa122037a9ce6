"""Who may use the admin site: session login (Flask-Login), CSRF on every form, cookie flags.

The JSON API authenticates with bearer tokens and needs no CSRF protection; the
admin site authenticates with a session cookie, so every state-changing request
under /admin must carry a CSRF token (Flask-WTF), checked here in one place.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from server.extensions import db_session
from server.models import User

log = logging.getLogger(__name__)

ADMIN_URL = "/admin"
bp = Blueprint("hs_auth", __name__, url_prefix=ADMIN_URL)
csrf = CSRFProtect()


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path on this site, never another host (open redirect)."""
    if not target:
        return url_for("admin.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("admin.index")
    return target


def _find_user(username: str) -> User | None:
    return db_session().scalars(select(User).where(User.username == username)).first()


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """Log in with a user made by `flask create-user` or on the Users page."""
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = _find_user(form.username.data.strip())
        if user is not None and user.is_active and user.check_password(form.password.data):
            login_user(user)
            log.info("admin login: %s", user.username)
            return redirect(safe_next(form.next.data))
        log.warning("admin login refused for %r from %s", form.username.data[:100], request.remote_addr)
        flash("Wrong user name or password.", "error")
    return render_template("hypersight/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    """POST only, with a CSRF token, so that another site cannot log an operator out."""
    logout_user()
    flash("Logged out.", "info")
    return redirect(url_for("hs_auth.login"))


def _load_user(user_id: str) -> User | None:
    """The session's user, or None (logged out) when it is gone or was deactivated since logging in.

    Flask-Login checks ``is_active`` only at login; reading it on every request is
    what makes deactivating a user end the sessions they already have.
    """
    if not user_id.isdigit():
        return None
    user = db_session().get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    return user


def _check_csrf() -> None:
    """Every POST/PUT/PATCH/DELETE under /admin needs the session's CSRF token (a 400 otherwise)."""
    path = request.path
    if path == ADMIN_URL or path.startswith(ADMIN_URL + "/"):
        csrf.protect()


def _harden_cookies(app: Flask) -> None:
    """HttpOnly and SameSite=Lax always; Secure (HTTPS only) outside development and tests."""
    secure = not (app.config.get("DEVELOPMENT") or app.config.get("TESTING"))
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        app.config[f"{prefix}_HTTPONLY"] = True
        app.config[f"{prefix}_SAMESITE"] = "Lax"
        app.config[f"{prefix}_SECURE"] = secure


def init_auth(app: Flask) -> None:
    """Login manager, CSRF and cookie flags of the admin site."""
    _harden_cookies(app)
    # CSRF is checked for /admin only (by _check_csrf); the bearer-token API is not cookie-authenticated.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # An operator may spend long on a zone; the token then lives as long as the login session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.before_request(_check_csrf)
    manager = LoginManager()
    manager.login_view = "hs_auth.login"
    manager.login_message = "Please log in to use the admin site."
    manager.user_loader(_load_user)
    manager.init_app(app)
    app.register_blueprint(bp)


def is_logged_in() -> bool:
    return bool(current_user.is_authenticated)


def to_login() -> Response:
    """The answer to an anonymous visitor of an admin page: the login page, then back here."""
    target = request.full_path if request.query_string else request.path
    if request.method != "GET":
        target = url_for("admin.index")
    return redirect(url_for("hs_auth.login", next=target))
