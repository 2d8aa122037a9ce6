"""Fixtures of the preview tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest


@pytest.fixture()
def t0() -> datetime:
    return datetime.now(UTC)


@pytest.fixture()
def preview_dir(tmp_path: Path) -> Path:
    return tmp_path / "previews"
