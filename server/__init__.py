"""hypersight web application: ``create_app()`` builds it; nothing happens at import time."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from server.config import check_secret_key, load_config
from server.logs import setup_logging

MAX_BODY_BYTES = 1 << 20


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the one configuration (see instance/config_example.py)."""
    config = load_config(test_config)
    check_secret_key(config)
    setup_logging(config["LOG_LEVEL"], config["LOG_FORMAT"])
    app = Flask(__name__)
    app.config.update(config)
    # In development a per-process key is enough: sessions then end with the process.
    app.config["SECRET_KEY"] = config["SECRET_KEY"] or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False

    from server import cli
    from server.admin import init_admin
    from server.api import register_api
    from server.api.auth import require_token
    from server.celery_app import celery_init_app
    from server.extensions import init_extensions
    from server.metrics import init_metrics

    init_extensions(app)
    register_api(app)
    init_metrics(app, require_token)
    init_admin(app)
    celery_init_app(app)
    cli.register(app)
    return app
