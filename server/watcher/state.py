"""The watcher's state machine in one place: states, the transition rule, and log-once bookkeeping."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from server.watcher.heartbeat import WatcherState


@dataclass(frozen=True)
class Observation:
    """What one loop of the watcher saw."""

    stopping: bool = False
    source_ok: bool = True
    detector_ok: bool = True


def next_state(observed: Observation) -> WatcherState:
    """Stopping wins over everything, a dead stream over a dead detector (no frames, nothing to detect)."""
    if observed.stopping:
        return WatcherState.STOPPING
    if not observed.source_ok:
        return WatcherState.RECONNECTING
    if not observed.detector_ok:
        return WatcherState.DETECTOR_DOWN
    return WatcherState.STREAMING


@dataclass
class Trouble:
    """Log a failure once and its recovery once, not every retry (a camera can be down for hours)."""

    what: str
    log: logging.LoggerAdapter
    failing: bool = field(default=False)

    def failed(self, exc: BaseException | str) -> None:
        if not self.failing:
            self.log.warning("%s failing: %s (retrying; logged once until it recovers)", self.what, exc)
        self.failing = True

    def recovered(self) -> None:
        if self.failing:
            self.log.info("%s recovered", self.what)
        self.failing = False
