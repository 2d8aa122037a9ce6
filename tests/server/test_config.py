"""Configuration: defaults, the operator's file, environment variables, validation, SECRET_KEY."""

from __future__ import annotations

import pytest

from server import create_app
from server.config import PROJECT_ROOT, ConfigError, load_config


def test_defaults_come_from_the_documented_example(tmp_path):
    config = load_config(environ={}, instance_dir=tmp_path)
    assert config["OBJECT_DETECTOR_URL"] == "http://127.0.0.1:8501/detect"
    assert config["API_TOKENS"] == []
    assert config["CELERY_BROKER_URL"] == config["REDIS_URL"]
    # Relative paths are the project's, not the current directory's.
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{PROJECT_ROOT / 'var' / 'hypersight.db'}"
    assert config["SEGMENTS_DIR"] == str(PROJECT_ROOT / "var" / "segments")


def test_instance_file_then_environment_override(tmp_path):
    (tmp_path / "config.py").write_text(
        "WATCHER_CHECK_S = 5\nAPI_TOKENS = ['from-file']\nFACE_WS_PORT = 9000\n"
    )
    environ = {
        "HYPERSIGHT_API_TOKENS": '["a", "b"]',
        "HYPERSIGHT_FACE_WS_PORT": "9100",
        "HYPERSIGHT_DEVELOPMENT": "true",
        "HYPERSIGHT_CELERY_BROKER_URL": "redis://10.0.0.1:6379/1",
        "UNRELATED": "x",
    }
    config = load_config(environ=environ, instance_dir=tmp_path)
    assert config["WATCHER_CHECK_S"] == 5
    assert config["API_TOKENS"] == ["a", "b"]
    assert config["FACE_WS_PORT"] == 9100
    assert config["DEVELOPMENT"] is True
    assert config["CELERY_BROKER_URL"] == "redis://10.0.0.1:6379/1"


@pytest.mark.parametrize(
    ("file_text", "environ", "message"),
    [
        ("WATCHER_CHEK_S = 5\n", {}, "WATCHER_CHEK_S: Extra inputs are not permitted"),
        ("", {"HYPERSIGHT_FACE_WS_PORT": "eighty"}, "FACE_WS_PORT: Input should be a valid integer"),
        ("", {"HYPERSIGHT_DETECTOR_JPEG_QUALITY": "101"}, "DETECTOR_JPEG_QUALITY: Input should be less than"),
        ("LOG_LEVEL = 'LOUD'\n", {}, "LOG_LEVEL: Value error, must be one of"),
        ("", {"HYPERSIGHT_API_TOKENS": '["a", b]'}, "HYPERSIGHT_API_TOKENS: not valid JSON"),
    ],
)
def test_invalid_configuration_names_the_key(tmp_path, file_text, environ, message):
    (tmp_path / "config.py").write_text(file_text)
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        load_config(environ=environ, instance_dir=tmp_path)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({}, True),
        ({"SECRET_KEY": "short"}, True),
        ({"SECRET_KEY": "a-long-enough-random-secret-key"}, False),
        ({"DEVELOPMENT": True}, False),
    ],
)
def test_secret_key_required_outside_development(tmp_path, overrides, refused):
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", **overrides}
    if refused:
        with pytest.raises(ConfigError, match="HYPERSIGHT_SECRET_KEY"):
            create_app(config)
    else:
        assert create_app(config).config["SECRET_KEY"]


def test_json_logs_carry_the_camera_id():
    import io
    import json
    import logging

    from server.logs import JsonFormatter
    from server.watcher.watcher import CameraLog

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("server.watcher.watcher")
    logger.addHandler(handler)
    try:
        CameraLog(logger, {"camera_id": 7}).warning("stream failing: %s", "404")
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert entry["camera_id"] == 7 and entry["msg"] == "camera 7: stream failing: 404"
    assert entry["level"] == "WARNING" and entry["logger"] == "server.watcher.watcher"
