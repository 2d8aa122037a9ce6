"""Validation of detector answers (pure), and the client's from_config helper."""

from __future__ import annotations

import math
from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from detector_client import ObjectDetectorClient, from_config
from detector_client.protocol import parse_faces, parse_objects


@pytest.mark.parametrize(
    ("payload", "expected", "expectation"),
    [
        ([], [], does_not_raise()),
        ([[0.1, 0.2, 0.3, 0.4, 0.9, 0]], [[0.1, 0.2, 0.3, 0.4, 0.9, 0]], does_not_raise()),
        ([[-0.005, 0.0, 1.005, 1.0, 0.5, 2.0]], [[0.0, 0.0, 1.0, 1.0, 0.5, 2]], does_not_raise()),  # tolerance
        ({"boxes": []}, None, pytest.raises(ValueError, match="JSON list")),
        ([[0.1, 0.2, 0.3, 0.4, 0.9]], None, pytest.raises(ValueError, match="list of 6")),
        ([0.1, 0.2, 0.3, 0.4, 0.9, 0], None, pytest.raises(ValueError, match="list of 6")),
        ([[0.1, 0.2, 0.3, "0.4", 0.9, 0]], None, pytest.raises(ValueError, match="numbers")),
        ([[0.1, 0.2, 0.3, True, 0.9, 0]], None, pytest.raises(ValueError, match="numbers")),
        ([[math.nan, 0.2, 0.3, 0.4, 0.9, 0]], None, pytest.raises(ValueError, match="non-finite")),
        ([[0.1, 0.2, math.inf, 0.4, 0.9, 0]], None, pytest.raises(ValueError, match="non-finite")),
        ([[0.1, 0.2, 1.5, 0.4, 0.9, 0]], None, pytest.raises(ValueError, match="outside the image")),
        ([[-0.2, 0.2, 0.5, 0.4, 0.9, 0]], None, pytest.raises(ValueError, match="outside the image")),
        ([[0.5, 0.2, 0.1, 0.4, 0.9, 0]], None, pytest.raises(ValueError, match="x_max < x_min")),
        ([[0.1, 0.2, 0.3, 0.4, 1.5, 0]], None, pytest.raises(ValueError, match="score")),
        ([[0.1, 0.2, 0.3, 0.4, 0.9, 1.5]], None, pytest.raises(ValueError, match="class id")),
        ([[0.1, 0.2, 0.3, 0.4, 0.9, -1]], None, pytest.raises(ValueError, match="class id")),
    ],
)
def test_parse_objects(payload, expected, expectation) -> None:
    with expectation:
        dets = parse_objects(payload)
        assert dets.shape == (len(expected), 6)
        np.testing.assert_allclose(dets, np.array(expected, dtype=float).reshape(-1, 6))


@pytest.mark.parametrize(
    ("payload", "expected", "expectation"),
    [
        ({"boxes": [], "conf": []}, [], does_not_raise()),
        ({"boxes": [[10, 20, 50, 60]], "conf": [0.9]}, [[10, 20, 50, 60, 0.9]], does_not_raise()),
        ({"boxes": [[-1, 0, 101, 80]], "conf": [0.5]}, [[0, 0, 100, 80, 0.5]], does_not_raise()),  # 2 px slack
        ({"boxes": [[10, 20, 50, 60]]}, None, pytest.raises(ValueError, match="'boxes' and 'conf'")),
        ([[10, 20, 50, 60]], None, pytest.raises(ValueError, match="'boxes' and 'conf'")),
        ({"boxes": [[10, 20, 50, 60]], "conf": []}, None, pytest.raises(ValueError, match="same length")),
        ({"boxes": [[10, 20, 50]], "conf": [0.9]}, None, pytest.raises(ValueError, match="list of 4")),
        ({"boxes": [[10, 20, 50, math.nan]], "conf": [0.9]}, None, pytest.raises(ValueError, match="non-finite")),
        ({"boxes": [[10, 20, 150, 60]], "conf": [0.9]}, None, pytest.raises(ValueError, match="outside")),
        ({"boxes": [[10, 20, 50, 60]], "conf": ["high"]}, None, pytest.raises(ValueError, match="numbers")),
    ],
)
def test_parse_faces(payload, expected, expectation) -> None:
    with expectation:
        faces = parse_faces(payload, crop_wh=(100, 80))
        np.testing.assert_allclose(faces, np.array(expected, dtype=float).reshape(-1, 5))


def test_from_config_builds_both_clients_from_project_keys() -> None:
    clients = from_config({
        "OBJECT_DETECTOR_URL": "http://gpu-1:8501/detect",
        "FACE_DETECTOR_URL": "http://gpu-1:8501/faces",
        "DETECTOR_CONNECT_TIMEOUT_S": 1,
        "DETECTOR_READ_TIMEOUT_S": 4,
        "DETECTOR_RETRIES": 5,
        "DETECTOR_BACKOFF_S": 0.1,
        "DETECTOR_JPEG_QUALITY": 70,
        "SQLALCHEMY_DATABASE_URI": "sqlite://",  # other keys are ignored
    })
    assert clients.objects.url == "http://gpu-1:8501/detect"
    assert clients.faces.url == "http://gpu-1:8501/faces"
    for client in clients:
        assert (client.policy.connect_timeout_s, client.policy.read_timeout_s, client.policy.retries) == (1, 4, 5)
        assert client.policy.backoff_s == 0.1
        assert client.jpeg_quality == 70


def test_from_config_defaults() -> None:
    clients = from_config({})
    assert clients.objects.url == "http://127.0.0.1:8501/detect"
    assert clients.faces.url == "http://127.0.0.1:8501/faces"
    assert clients.objects.policy.retries == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"jpeg_quality": 0}, "jpeg_quality"), ({"retries": -1}, "retries"), ({"read_timeout_s": 0}, "timeouts")],
)
def test_client_refuses_bad_settings(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        ObjectDetectorClient("http://127.0.0.1:1/detect", **kwargs)
