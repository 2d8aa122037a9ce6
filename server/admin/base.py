"""What every admin view shares: login required, CSRF-carrying forms, the request's DB session."""

from __future__ import annotations

import warnings
from typing import Any

from flask import request
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.sqla import ModelView
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from server.admin.auth import is_logged_in, to_login
from server.api.schemas import MAX_ID
from server.extensions import db_session
from server.models import Camera, Processor, User


class RequestSession:
    """Stands for the current request's session (``db_session()``) where Flask-Admin keeps one object.

    Flask-Admin holds a session per view for the app's life; ours is per request
    (opened lazily, closed at teardown), so this forwards every use to it.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "session":
            raise AttributeError(name)
        return getattr(db_session(), name)


def build_model_view(view_class: type[ModelView], model: type, **kwargs: Any) -> ModelView:
    """A model view on the request session.

    Flask-Admin 2.2 warns that a session object (rather than a Flask-SQLAlchemy
    ``db``) is deprecated; the project does not use Flask-SQLAlchemy, so the
    warning says nothing actionable here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Passing a session object directly", category=DeprecationWarning)
        return view_class(model, RequestSession(), **kwargs)


def id_arg(name: str = "id") -> int:
    """An id from the query string, 0 (which names nothing) when absent, not a number or beyond 32 bits.

    A larger number would overflow the database's integer (a 500) instead of
    finding nothing; like an out-of-range id in an API path, it names no row.
    """
    value = request.args.get(name, type=int)
    return value if value is not None and 0 <= value <= MAX_ID else 0


def row_ids(values: list[str]) -> list[int]:
    """The ids a bulk action names; anything that is not an id the database can hold is left out.

    str.isdigit() alone would accept "²" (int() then fails) or 30 digits (the database
    overflows): both a 500 where the answer is "no such row".
    """
    return [int(value) for value in values
            if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID]


class LoginRequired:
    """Mixed into every admin view: anonymous visitors are sent to the login page."""

    def is_accessible(self) -> bool:
        return is_logged_in()

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Response:
        return to_login()


class SecureModelView(LoginRequired, ModelView):
    """Forms (including Flask-Admin's delete and bulk-action forms) carry Flask-WTF's CSRF token."""

    form_base_class = FlaskForm
    page_size = 50
    can_view_details = False


class SecureView(LoginRequired, BaseView):
    pass


class DashboardView(LoginRequired, AdminIndexView):
    """The admin's home: how many cameras and processors there are, and where to go next."""

    @expose("/")
    def index(self) -> str:
        session = db_session()
        counts = {
            "cameras": session.scalar(select(func.count(Camera.id))),
            "enabled": session.scalar(select(func.count(Camera.id)).where(Camera.enabled.is_(True))),
            "processors": session.scalar(select(func.count(Processor.id))),
            "users": session.scalar(select(func.count(User.id))),
        }
        return self.render("hypersight/index.html", counts=counts)
