"""The admin site (Flask-Admin at /admin): cameras, processors with a zone editor, previews, events,
watchers, users; every page and action behind a login, every form with a CSRF token."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from server.admin.api import api_bp, assets_bp
from server.admin.auth import ADMIN_URL, init_auth
from server.admin.base import DashboardView, build_model_view
from server.admin.cameras import CameraView
from server.admin.processors import ProcessorView
from server.admin.users import UserView
from server.admin.watchers import WatchersView
from server.models import Camera, Processor, User


def init_admin(app: Flask) -> None:
    """Mount the admin site on ``app``; call once per app, after the API is registered."""
    init_auth(app)
    app.register_blueprint(assets_bp)
    app.register_blueprint(api_bp)
    admin = Admin(
        app,
        name="hypersight",
        url=ADMIN_URL,
        index_view=DashboardView(name="Home", url=ADMIN_URL),
        theme=Bootstrap4Theme(base_template="hypersight/base.html", fluid=True),
    )
    admin.add_view(build_model_view(CameraView, Camera, name="Cameras", endpoint="camera"))
    admin.add_view(build_model_view(ProcessorView, Processor, name="Processors", endpoint="processor"))
    admin.add_view(WatchersView(name="Watchers", endpoint="watchers", url=f"{ADMIN_URL}/watchers"))
    admin.add_view(build_model_view(UserView, User, name="Users", endpoint="user"))
