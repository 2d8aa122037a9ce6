"""Admin users made in the site: the password is typed once and stored only as a salted hash."""

from __future__ import annotations

import logging
from typing import Any

from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.validators import ValidationError as FieldError

from server.admin.base import SecureModelView
from server.extensions import db_session
from server.models import User

log = logging.getLogger(__name__)
MIN_PASSWORD = 8


class UserForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[Optional(), Length(min=MIN_PASSWORD, max=200)],
                             description="On an existing user: leave empty to keep the current password.")
    active = BooleanField("Active (may log in)", default=True)

    def populate_obj(self, obj: User) -> None:
        """Never copy the typed password onto the row: hash it."""
        obj.username = self.username.data.strip()
        obj.active = self.active.data
        if self.password.data:
            obj.set_password(self.password.data)


class UserView(SecureModelView):
    form = UserForm
    column_list = ("id", "username", "active")
    column_sortable_list = ("id", "username", "active")
    column_searchable_list = ("username",)
    column_default_sort = "id"

    def create_form(self, obj: Any = None) -> UserForm:
        form = super().create_form(obj)
        form.password.validators = [DataRequired(), Length(min=MIN_PASSWORD, max=200)]
        form.password.flags.required = True
        return form

    def on_model_change(self, form: UserForm, model: User, is_created: bool) -> None:
        session = db_session()
        query = select(User.id).where(User.username == model.username)
        if model.id is not None:
            query = query.where(User.id != model.id)
        with session.no_autoflush:
            if session.scalar(query) is not None:
                raise FieldError(f"User {model.username} exists already")
        if model.id == current_user.id and not model.active:
            raise FieldError("You cannot deactivate yourself")
        log.info("admin user %s %s by %s", model.username, "created" if is_created else "changed",
                 current_user.username)

    def on_model_delete(self, model: User) -> None:
        if model.id == current_user.id:
            raise FieldError("You cannot delete yourself")
        log.info("admin user %s deleted by %s", model.username, current_user.username)
