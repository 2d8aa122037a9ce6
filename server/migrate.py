"""Schema migrations with Alembic, run from the CLI (``flask --app server init-db``).

Alembic rather than ``create_all``: an upgrade of a running installation must
change its schema without losing its events.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

from server.models import Base

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine, connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; creates it on an empty database."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(engine, connection), "head")


def drop_everything(engine: Engine) -> None:
    """Only for ``init-db --drop``: the tables, their data and the migration history."""
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        if inspect(connection).has_table("alembic_version"):
            connection.exec_driver_sql("DROP TABLE alembic_version")


def existing_tables(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
