"""At most one watcher per camera, cluster-wide: a Redis lease that is also the heartbeat.

The lease is taken with SET NX and a TTL and renewed by its owner's keeper
thread (keeper.py); renewing and releasing check the owner's random token inside
Redis (a Lua script), so a watcher that stalled past its TTL can never overwrite
or delete the lease of the watcher that replaced it: it learns it lost the lease
and stops. A lease that is simply gone (Redis restarted without persistence, or
it expired and nobody took it) is taken again by the same script, atomically,
so the camera keeps its watcher and its tracks.
"""

from __future__ import annotations

import logging
import uuid

import redis

from server.watcher.heartbeat import Heartbeat, lease_key

log = logging.getLogger(__name__)

GENERATION_KEY = "hypersight:watchers:generation"
STOP_PREFIX = "hypersight:watcher:stop:"
PENDING_PREFIX = "hypersight:watcher:pending:"

_RENEW = """
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
  return 2
end
local ok, decoded = pcall(cjson.decode, current)
if not ok or decoded['token'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""

_RELEASE = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, decoded = pcall(cjson.decode, current)
if not ok or decoded['token'] ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


def stop_key(camera_id: int) -> str:
    return f"{STOP_PREFIX}{camera_id}"


def pending_key(camera_id: int) -> str:
    return f"{PENDING_PREFIX}{camera_id}"


class Lease:
    """The lease of one camera held by this process."""

    # What renew() found.
    LOST = 0  # another watcher holds the camera
    KEPT = 1
    RETAKEN = 2  # the key was gone and is ours again

    def __init__(self, client: redis.Redis, camera_id: int, ttl_s: int) -> None:
        self.client = client
        self.camera_id = camera_id
        self.ttl_s = ttl_s
        self.token = uuid.uuid4().hex
        self.key = lease_key(camera_id)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self, beat: Heartbeat) -> bool:
        """True if no other watcher holds the camera; this one does now."""
        return bool(self.client.set(self.key, self._value(beat), nx=True, ex=self.ttl_s))

    def renew(self, beat: Heartbeat) -> int:
        """Write the new heartbeat and push the expiry back: KEPT, RETAKEN, or LOST to another watcher."""
        return int(self._renew(keys=[self.key], args=[self.token, self._value(beat), self.ttl_s]))

    def release(self) -> bool:
        return bool(self._release(keys=[self.key], args=[self.token]))

    def _value(self, beat: Heartbeat) -> str:
        return Heartbeat(**{**beat.__dict__, "token": self.token}).to_json()


def current_generation(client: redis.Redis) -> int:
    """restart_watchers increments it; a watcher started under an older one stops."""
    return int(client.get(GENERATION_KEY) or 0)
