"""Load and validate the one configuration every hypersight process reads.

Order of precedence, lowest first: ``instance/config_example.py`` (the
documented defaults), ``instance/config.py`` (the operator's file), environment
variables ``HYPERSIGHT_<KEY>``, then the overrides a caller passes (tests).
The result is validated once, with messages that name the key, and handed down
as a plain dict; no other module reads ``os.environ``.
"""

from __future__ import annotations

import json
import os
import runpy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "HYPERSIGHT_"
_PATH_KEYS = ("SEGMENTS_DIR", "PROCESSORS_PREVIEW_DIR")


class ConfigError(SystemExit):
    """The configuration is invalid or unsafe; the message says which key and what to do.

    A SystemExit so that a process started with a bad configuration (flask, gunicorn,
    celery) stops with that message alone instead of a traceback that hides it.
    """

    def __str__(self) -> str:
        return f"hypersight: {self.code}"


class Settings(BaseModel):
    """Every known key with its type; unknown keys are refused so that typos surface."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    SECRET_KEY: str | None = None
    DEVELOPMENT: bool = False
    TESTING: bool = False
    API_TOKENS: list[str] = Field(default_factory=list)
    SQLALCHEMY_DATABASE_URI: str = "sqlite:///var/hypersight.db"
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    CELERY_BROKER_URL: str | None = None
    SEGMENTS_DIR: str = "var/segments"
    PROCESSORS_PREVIEW_DIR: str = "var/previews"
    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: Literal["text", "json"] = "text"
    OBJECT_DETECTOR_URL: str = "http://127.0.0.1:8501/detect"
    FACE_DETECTOR_URL: str = "http://127.0.0.1:8501/faces"
    DETECTOR_CONNECT_TIMEOUT_S: float = Field(3.0, gt=0)
    DETECTOR_READ_TIMEOUT_S: float = Field(10.0, gt=0)
    DETECTOR_RETRIES: int = Field(2, ge=0, le=10)
    DETECTOR_BACKOFF_S: float = Field(0.5, ge=0)
    DETECTOR_JPEG_QUALITY: int = Field(85, ge=1, le=100)
    FACE_WS_ADDRESS: str = "127.0.0.1"
    FACE_WS_PORT: int = Field(8765, ge=0, le=65535)
    FACE_WS_TOKENS: list[str] = Field(default_factory=list)
    WATCHER_LEASE_TTL_S: int = Field(30, ge=3)
    WATCHER_CHECK_S: int = Field(15, ge=1)

    @field_validator("LOG_LEVEL")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level


def _module_keys(path: Path) -> dict[str, Any]:
    """The upper-case names a Python config file defines."""
    if not path.is_file():
        return {}
    namespace = runpy.run_path(str(path))
    return {key: value for key, value in namespace.items() if key.isupper()}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """``HYPERSIGHT_<KEY>`` variables; JSON values (lists, numbers, null) are decoded."""
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name[len(ENV_PREFIX) :] not in Settings.model_fields:
            continue
        key = name[len(ENV_PREFIX) :]
        annotation = str(Settings.model_fields[key].annotation)
        if raw.strip().startswith(("[", "{")) or (annotation.startswith("list") and raw.strip() == ""):
            try:
                values[key] = json.loads(raw) if raw.strip() else []
            except ValueError as exc:
                raise ConfigError(f"invalid configuration ({name}: not valid JSON: {exc})") from exc
        elif raw == "null" and "None" in annotation:
            values[key] = None
        else:
            values[key] = raw
    return values


def _absolute(config: dict[str, Any], root: Path) -> dict[str, Any]:
    """Resolve relative folders and SQLite files against the project root, not the cwd."""
    for key in _PATH_KEYS:
        config[key] = str((root / config[key]).resolve())
    uri = config["SQLALCHEMY_DATABASE_URI"]
    prefix = "sqlite:///"
    if uri.startswith(prefix) and uri != "sqlite:///:memory:" and not uri.startswith("sqlite:////"):
        config["SQLALCHEMY_DATABASE_URI"] = prefix + str((root / uri[len(prefix) :]).resolve())
    if not config["CELERY_BROKER_URL"]:
        config["CELERY_BROKER_URL"] = config["REDIS_URL"]
    return config


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    instance_dir: Path | None = None,
) -> dict[str, Any]:
    """Build the validated configuration dict of one process."""
    environ = os.environ if environ is None else environ
    instance = instance_dir or Path(environ.get(ENV_PREFIX + "INSTANCE_DIR", PROJECT_ROOT / "instance"))
    raw: dict[str, Any] = {}
    raw.update(_module_keys(PROJECT_ROOT / "instance" / "config_example.py"))
    raw.update(_module_keys(instance / "config.py"))
    raw.update(_from_env(environ))
    raw.update(overrides or {})
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration ({problems})") from exc
    return _absolute(settings.model_dump(), PROJECT_ROOT)


def check_secret_key(config: Mapping[str, Any]) -> None:
    """Refuse to serve with a guessable key unless in development or testing mode."""
    if config["DEVELOPMENT"] or config["TESTING"]:
        return
    key = config.get("SECRET_KEY") or ""
    if len(key) < 16:
        raise ConfigError(
            "SECRET_KEY is not set (or shorter than 16 characters). Set it in instance/config.py "
            "or the environment variable HYPERSIGHT_SECRET_KEY, e.g. to the output of "
            "python -c 'import secrets; print(secrets.token_hex(32))'; "
            "or set HYPERSIGHT_DEVELOPMENT=true on a development machine."
        )
