"""Headless Chromium through Selenium for the admin's browser tests, and a few helpers around it."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# What Debian's Chromium needs to run headless as root in a container, without reaching out.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1000",
]
WAIT_S = 30  # a bound against a hang, never the assertion


def start_chromium(profile: Path) -> Any:
    """A Selenium driver for Debian's chromium; the test is skipped where it is not installed."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} is not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def fresh_profile() -> Path:
    return Path(tempfile.mkdtemp(prefix="hypersight-chromium-"))


def wait_until(driver: Any, condition: Callable[[Any], Any], what: str, shots: Path | None = None) -> Any:
    """Wait for a condition; on a timeout, say what was awaited and what the page's console said."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(condition)
    except TimeoutException:
        if shots is not None:
            driver.save_screenshot(str(shots / f"timeout-{what.replace(' ', '-')}.png"))
        console = "\n".join(entry["message"] for entry in driver.get_log("browser"))
        raise AssertionError(f"timed out waiting for {what} on {driver.current_url}\nconsole:\n{console}") from None


def screenshot(driver: Any, shots: Path, name: str) -> Path:
    path = shots / f"{name}.png"
    driver.save_screenshot(str(path))
    log.info("screenshot %s", path)
    return path


def needs_node_modules(package: str) -> None:
    """Skip, saying how to install it, where the npm package a page loads is not installed."""
    from server.admin.api import NODE_MODULES

    if not (NODE_MODULES / package).is_dir():
        pytest.skip(f"node_modules/{package} is not installed: run `npm ci` in the project folder")
