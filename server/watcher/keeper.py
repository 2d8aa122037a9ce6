"""The lease keeper: a thread that keeps a watcher's lease alive and hears stop requests.

Renewing the lease from the watcher's loop ties the lease to the slowest thing
the loop does (a detector that hangs until its timeouts and retries, a slow
download, an ffprobe): past the TTL the lease expires, ``ensure_watchers``
starts a second watcher and the first one's tracks are lost. So renewal runs on
its own clock, every third of the TTL at most, whatever the loop is doing. The
same tick reads the restart generation and the camera's stop request, so a
restart or a disabled camera stops a watcher within seconds even in the middle
of a segment.

Keeping the lease must not hide a watcher that is truly stuck: the loop reports
progress (``pulse``), and a keeper whose loop has not moved for ``STALL_S`` stops
renewing, so the lease expires and another worker takes the camera over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from server.watcher.heartbeat import Heartbeat
from server.watcher.lease import GENERATION_KEY, Lease, stop_key
from server.watcher.state import Trouble

log = logging.getLogger(__name__)

# Longer than anything the loop legitimately waits for in one step: a segment whose detector
# is down is dropped after MAX_DETECTOR_WAIT_S (120 s), a download or detector call times out
# in tens of seconds.
STALL_S = 300.0
MAX_TICK_S = 5.0


def tick_interval(ttl_s: float) -> float:
    """Often enough that two missed ticks still renew in time, and that a restart is heard quickly."""
    return max(0.2, min(ttl_s / 3, MAX_TICK_S))


class LeaseKeeper:
    """Renews ``lease`` with ``beat()`` every tick; sets ``stop`` when the watcher must stop."""

    def __init__(self, lease: Lease, beat: Callable[[], Heartbeat], stop: threading.Event, generation: int,
                 logger: logging.LoggerAdapter, stall_s: float = STALL_S) -> None:
        self.lease = lease
        self.beat = beat
        self.stop = stop
        self.generation = generation
        self.log = logger
        self.stall_s = stall_s
        self.interval_s = tick_interval(lease.ttl_s)
        self.lost = False
        self._pulse = time.monotonic()
        self._renewed_at = time.monotonic()
        self._stalled = False
        self._done = threading.Event()
        self._redis = Trouble("redis", logger)
        self._lock = threading.Lock()  # the loop's publish() and the thread's tick() renew one at a time
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.camera_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop renewing and give the lease back (unless another watcher holds it)."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        # Under the lock and after ``lost`` is set, so that no renewal still in flight can
        # take the lease again once it is released.
        with self._lock:
            was_lost, self.lost = self.lost, True
            if not was_lost:
                try:
                    self.lease.release()
                except redis.RedisError as exc:
                    self.log.warning("could not release the lease (it expires by itself): %s", exc)

    def pulse(self) -> None:
        """The loop made progress."""
        self._pulse = time.monotonic()

    def publish(self) -> None:
        """Renew now with a fresh heartbeat (a state change should not wait for the next tick)."""
        self._renew()

    def _run(self) -> None:
        while not self._done.wait(self.interval_s):
            try:
                self.tick()
            except Exception:  # a keeper that died would let the lease expire under a live watcher
                self.log.exception("lease keeper tick failed; trying again next tick")

    def tick(self) -> None:
        if self._loop_stalled():
            return
        if self._renew():
            self._check_stop_requests()

    def _loop_stalled(self) -> bool:
        idle = time.monotonic() - self._pulse
        stalled = idle > self.stall_s
        if stalled and not self._stalled:
            self.log.error("the watcher loop has not moved for %.0fs; letting the lease expire so that "
                           "another worker takes the camera", idle)
        elif self._stalled and not stalled:
            self.log.warning("the watcher loop moved again")
        self._stalled = stalled
        return stalled

    def _renew(self) -> bool:
        """True while the lease is ours (or Redis cannot tell us otherwise)."""
        try:
            with self._lock:
                if self.lost:
                    return False
                outcome = self.lease.renew(self.beat())
        except redis.RedisError as exc:
            # Redis down: keep watching while the lease cannot have expired; when Redis is back
            # the lease is renewed or taken again. Past the TTL another node that can still
            # reach Redis may have taken the camera: stop rather than count it twice.
            self._redis.failed(exc)
            unreachable_s = time.monotonic() - self._renewed_at
            if unreachable_s > self.lease.ttl_s:
                self.lost = True
                self.log.error("could not renew the lease for %.0fs (more than its TTL); another watcher may own "
                               "the camera now: stopping", unreachable_s)
                self.stop.set()
                return False
            return True
        self._redis.recovered()
        self._renewed_at = time.monotonic()
        if outcome == Lease.LOST:
            self.lost = True
            self.log.error("lost the lease; another watcher owns the camera now")
            self.stop.set()
            return False
        if outcome == Lease.RETAKEN:
            self.log.warning("the lease had vanished (Redis restarted or the lease expired); taken again")
        return True

    def _check_stop_requests(self) -> None:
        """A newer generation (restart_watchers) or a stop request (ensure_watchers)."""
        try:
            generation, stop_requested = self.lease.client.mget([GENERATION_KEY, stop_key(self.lease.camera_id)])
            if generation is None and self.generation:
                # Redis lost the counter (restarted without persistence): put ours back, or the next
                # restart would count from zero and never reach this watcher's generation.
                self.lease.client.set(GENERATION_KEY, self.generation, nx=True)
        except redis.RedisError as exc:
            self._redis.failed(exc)
            return
        if int(generation or 0) > self.generation:
            self.log.info("watchers restarted (generation %s); stopping", int(generation))
            self.stop.set()
        elif stop_requested:
            self.log.info("stop requested; stopping")
            self.stop.set()
