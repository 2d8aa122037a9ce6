"""The lease keeper on a real Redis: renews on its own clock, hears stop requests, lets a stuck loop go."""

from __future__ import annotations

import itertools
import logging
import threading
import time

import pytest
import redis

from server.watcher.heartbeat import Heartbeat, read_heartbeats
from server.watcher.keeper import LeaseKeeper, tick_interval
from server.watcher.lease import GENERATION_KEY, Lease, stop_key
from tests.support.servers import RedisOnPort
from tests.support.waiting import wait_until

_ids = itertools.count(9000)


@pytest.fixture()
def lease(redis_client):
    """A 1 s lease on a fresh camera id, taken."""
    camera_id = next(_ids)
    held = Lease(redis_client, camera_id, ttl_s=1)
    assert held.acquire(beat(camera_id))
    yield held
    redis_client.delete(held.key, stop_key(camera_id))


def beat(camera_id: int) -> Heartbeat:
    return Heartbeat(camera_id=camera_id, node="test", pid=1, state="streaming", last_segment_at=None,
                     updated_at=time.time())


def keeper_for(lease: Lease, generation: int = 0, **kwargs) -> tuple[LeaseKeeper, threading.Event]:
    stop = threading.Event()
    keeper = LeaseKeeper(lease, lambda: beat(lease.camera_id), stop, generation,
                         logging.LoggerAdapter(logging.getLogger("test"), {}), **kwargs)
    keeper.start()
    return keeper, stop


def token_of(redis_client, camera_id: int) -> str | None:
    found = read_heartbeats(redis_client, [camera_id])[camera_id]
    return found.token if found else None


def test_tick_is_a_third_of_the_ttl_at_most():
    assert tick_interval(30) == 5.0
    assert tick_interval(3) == 1.0


def test_lease_outlives_its_ttl_while_the_loop_is_busy(lease, redis_client):
    keeper, stop = keeper_for(lease)
    try:
        for _ in range(12):  # 3 s: three TTLs, and the loop never renewed once
            time.sleep(0.25)
            assert token_of(redis_client, lease.camera_id) == lease.token
        assert not stop.is_set()
    finally:
        keeper.close()


def test_lease_taken_by_another_watcher_stops_this_one(lease, redis_client):
    keeper, stop = keeper_for(lease)
    try:
        other = Lease(redis_client, lease.camera_id, ttl_s=30)
        redis_client.set(lease.key, other._value(beat(lease.camera_id)), ex=30)
        assert stop.wait(5)
        assert keeper.lost
        assert token_of(redis_client, lease.camera_id) == other.token  # not overwritten
    finally:
        keeper.close()


def test_vanished_lease_is_taken_again(lease, redis_client):
    """What a Redis restart without persistence looks like to a watcher: the key is simply gone."""
    keeper, stop = keeper_for(lease)
    try:
        redis_client.delete(lease.key)
        wait_until(lambda: token_of(redis_client, lease.camera_id) == lease.token, timeout_s=5)
        assert not stop.is_set() and not keeper.lost
    finally:
        keeper.close()


def test_stuck_loop_lets_the_lease_expire_until_it_moves_again(lease, redis_client):
    keeper, stop = keeper_for(lease, stall_s=0.5)
    try:
        wait_until(lambda: token_of(redis_client, lease.camera_id) is None, timeout_s=5)
        keeper.pulse()
        wait_until(lambda: token_of(redis_client, lease.camera_id) == lease.token, timeout_s=5)
        assert not stop.is_set()
    finally:
        keeper.close()


def test_restart_generation_and_stop_request_stop_the_watcher(lease, redis_client):
    generation = int(redis_client.incr(GENERATION_KEY))
    keeper, stop = keeper_for(lease, generation=generation)
    try:
        assert not stop.wait(1.0)
        redis_client.incr(GENERATION_KEY)
        assert stop.wait(5)
    finally:
        keeper.close()
    keeper, stop = keeper_for(lease, generation=int(redis_client.get(GENERATION_KEY)))
    try:
        redis_client.set(stop_key(lease.camera_id), "1", ex=10)
        assert stop.wait(5)
        assert not keeper.lost
    finally:
        keeper.close()


def test_generation_lost_with_redis_is_put_back(lease, redis_client):
    generation = int(redis_client.incr(GENERATION_KEY))
    keeper, stop = keeper_for(lease, generation=generation)
    try:
        redis_client.delete(GENERATION_KEY)
        wait_until(lambda: redis_client.get(GENERATION_KEY) == str(generation), timeout_s=5)
        # The next restart_watchers increments past this watcher's generation and stops it.
        redis_client.incr(GENERATION_KEY)
        assert stop.wait(5)
    finally:
        keeper.close()


def test_close_gives_the_lease_back(lease, redis_client):
    keeper, _ = keeper_for(lease)
    keeper.close()
    assert token_of(redis_client, lease.camera_id) is None
    keeper.tick()  # a late tick after the release must not take it again
    assert token_of(redis_client, lease.camera_id) is None


def test_a_failing_tick_does_not_end_the_keeper(lease, redis_client):
    calls = {"n": 0}

    def flaky_beat() -> Heartbeat:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the heartbeat")
        return beat(lease.camera_id)

    stop = threading.Event()
    keeper = LeaseKeeper(lease, flaky_beat, stop, 0, logging.LoggerAdapter(logging.getLogger("test"), {}))
    keeper.start()
    try:
        wait_until(lambda: calls["n"] >= 4, timeout_s=5)
        assert token_of(redis_client, lease.camera_id) == lease.token
        assert not stop.is_set()
    finally:
        keeper.close()


def test_redis_unreachable_for_longer_than_the_ttl_stops_the_watcher(tmp_path):
    """Another node may have taken the camera meanwhile: better stop than count it twice."""
    server = RedisOnPort(tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=0.5,
                                  socket_connect_timeout=0.5)
    try:
        held = Lease(client, 1, ttl_s=1)
        assert held.acquire(beat(1))
        keeper, stop = keeper_for(held)
        server.stop()
        assert stop.wait(10)
        assert keeper.lost
        keeper.close()
    finally:
        server.stop()
        client.close()
