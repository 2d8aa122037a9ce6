"""Waiting for something a real process does: poll a predicate, return what it found."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout_s: float = 30.0, step_s: float = 0.25,
               what: str = "condition") -> T:
    """The predicate's first true value; the timeout only guards against a hang, it is never the assertion."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(step_s)
