"""Fixtures of the processor tests: a real detector service, started as an operator would."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_START_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def detector_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``python -m detector_service --backend opencv`` (HOG people, Haar faces)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("detector") / "service.log"
    command = [sys.executable, "-m", "detector_service", "--host", "127.0.0.1", "--port", str(port),
               "--backend", "opencv", "--threads", "2"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"detector service did not start:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{base_url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
