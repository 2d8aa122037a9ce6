"""Exponential backoff with a ceiling, for every retry loop of a watcher."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    initial_s: float = 1.0
    maximum_s: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum_s, self.initial_s * (2**self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
