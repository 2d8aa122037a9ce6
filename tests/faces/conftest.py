"""Fixtures of the faces tests: relays running as real processes against a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.faces.facekit import Relay, relay_process

TOKENS = ["s3cret-token", "other-token"]


@pytest.fixture()
def publisher(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, as a watcher has, to publish with ``publish_faces``."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture()
def relay(tmp_path: Path, redis_url: str) -> Iterator[Relay]:
    with relay_process(tmp_path, redis_url, None, "--handshake-timeout", "1") as running:
        yield running


@pytest.fixture()
def token_relay(tmp_path: Path, redis_url: str) -> Iterator[Relay]:
    with relay_process(tmp_path, redis_url, TOKENS, "--handshake-timeout", "1") as running:
        yield running
