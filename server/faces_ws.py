"""The faces relay: Redis pub/sub in, WebSocket subscribers out (``python -m server.faces_ws``).

Watchers on any node publish one JSON message per frame with faces on
``hypersight:faces:<camera_id>`` (``server.faces_pub``); this process follows
them all with one PSUBSCRIBE and forwards every message, byte for byte, to every
subscriber that asked for that camera.

Handshake (kept from the original clients): the client sends ``client``, then
receives ``OK`` and one JSON text message per frame. Extensions, all optional:

* a token where ``FACE_WS_TOKENS`` is set: ``client <token>`` in one message, or
  ``client`` followed by a second message holding only the token (the old style);
* a camera filter: ``client camera=1,2`` and/or ``ws://host:port/?camera=1,2``
  (both given: only cameras in both);
* ``status [token]`` answers one JSON message with the relay's counters and closes.

A refused handshake is closed with 4400 (bad request), 4401 (missing or wrong
token) or 4408 (nothing sent within the handshake timeout), with a reason.

Why the shape: the fan-out loop never awaits a client. Each subscriber has a
bounded queue that drops its oldest message when full and its own sender (its
connection handler), so a slow or stuck client loses old faces and delays nobody.
Messages are shared bytes objects, so a hundred stuck clients cost one queue of
memory, not a hundred. Redis going away is retried with backoff and logged once;
clients stay connected meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import signal
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from server.config import load_config
from server.faces_pub import FACES_PATTERN, camera_of
from server.logs import setup_logging

# Named, not __name__: run with -m, this module is "__main__".
log = logging.getLogger("server.faces_ws")

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_TIMEOUT = 4408
USAGE = "expected 'client [token] [camera=1,2]' or 'status [token]'"


class HandshakeError(Exception):
    """A handshake the relay refuses: closed with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Hello:
    """What a client asked for in its handshake."""

    command: str
    token: str | None = None
    cameras: frozenset[int] | None = None


def parse_cameras(text: str) -> frozenset[int]:
    """``"1,2"`` -> {1, 2}; anything else is a bad request."""
    try:
        cameras = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        cameras = frozenset()
    if not cameras or min(cameras) < 0:
        raise HandshakeError(CLOSE_BAD_REQUEST, "camera= wants comma-separated camera ids, e.g. camera=1,2")
    return cameras


def query_cameras(path: str) -> frozenset[int] | None:
    """The ``camera`` filter of the connection URL's query string, if any."""
    values = parse_qs(urlsplit(path).query).get("camera")
    return parse_cameras(",".join(values)) if values else None


def parse_hello(text: str, cameras: frozenset[int] | None = None) -> Hello:
    """Read ``client [token] [camera=1,2]`` (words in any order); ``cameras`` is the URL's filter."""
    words = text.split()
    if not words or words[0] not in ("client", "status"):
        raise HandshakeError(CLOSE_BAD_REQUEST, USAGE)
    token = None
    for word in words[1:]:
        if word.startswith("camera="):
            asked = parse_cameras(word.removeprefix("camera="))
            cameras = asked if cameras is None else cameras & asked
        elif token is None:
            token = word
        else:
            raise HandshakeError(CLOSE_BAD_REQUEST, USAGE)
    return Hello(words[0], token, cameras)


def peer(ws: ServerConnection) -> str:
    host, port = (ws.remote_address or ("?", 0))[:2]
    return f"{host}:{port}"


def token_ok(token: str | None, tokens: list[str]) -> bool:
    """Constant-time comparison against every token, so timing reveals nothing."""
    return token is not None and any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens)


@dataclass(eq=False)
class Subscriber:
    """One connected client: its filter, its bounded queue and what it got or lost."""

    ws: ServerConnection
    cameras: frozenset[int] | None
    queue: asyncio.Queue[bytes]
    sent: int = 0
    dropped: int = 0

    @property
    def name(self) -> str:
        return peer(self.ws)

    def wants(self, camera_id: int) -> bool:
        return self.cameras is None or camera_id in self.cameras

    def offer(self, data: bytes) -> bool:
        """Queue one message without waiting; the oldest makes room. False when one was dropped."""
        dropped = self.queue.full()
        if dropped:
            self.queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1:
                log.info("client %s is slow; dropping its oldest messages", self.name)
        self.queue.put_nowait(data)
        return not dropped


@dataclass
class Counters:
    """Totals since start, logged when they change (metrics come later)."""

    received: int = 0
    sent: int = 0
    dropped: int = 0
    invalid: int = 0
    connected: int = 0
    disconnected: int = 0
    rejected: int = 0
    redis_retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Relay:
    """Follows Redis and serves WebSocket subscribers; one per process."""

    redis_url: str
    tokens: list[str] = field(default_factory=list)
    queue_size: int = 64
    handshake_timeout_s: float = 10.0
    backoff_s: tuple[float, float] = (0.5, 10.0)
    subscribers: set[Subscriber] = field(default_factory=set)
    counters: Counters = field(default_factory=Counters)
    redis_up: bool = False
    redis_failures: int = 0

    # --- WebSocket side -------------------------------------------------------
    async def handle(self, ws: ServerConnection) -> None:
        """One connection: handshake, then relay until it goes away."""
        try:
            hello = await self._handshake(ws)
        except HandshakeError as exc:
            self.counters.rejected += 1
            log.info("refused %s: %s", peer(ws), exc.reason)
            await ws.close(exc.code, exc.reason)
            return
        except ConnectionClosed:
            return
        if hello.command == "status":
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps(self.status()))
                await ws.close()
            return
        await self._serve_subscriber(ws, hello)

    async def _handshake(self, ws: ServerConnection) -> Hello:
        path = ws.request.path if ws.request is not None else "/"
        hello = parse_hello(await self._receive(ws), query_cameras(path))
        if self.tokens and hello.token is None:
            hello = Hello(hello.command, await self._receive_token(ws), hello.cameras)
        if self.tokens and not token_ok(hello.token, self.tokens):
            raise HandshakeError(CLOSE_UNAUTHORIZED, "missing or wrong token")
        return hello

    async def _receive_token(self, ws: ServerConnection) -> str | None:
        """The old two-message style; a client that sends nothing more has no token."""
        try:
            return (await self._receive(ws)).strip() or None
        except HandshakeError as exc:
            if exc.code == CLOSE_TIMEOUT:
                return None
            raise

    async def _receive(self, ws: ServerConnection) -> str:
        try:
            message = await asyncio.wait_for(ws.recv(), self.handshake_timeout_s)
        except TimeoutError:
            raise HandshakeError(CLOSE_TIMEOUT, f"handshake timeout: {USAGE}") from None
        if not isinstance(message, str):
            raise HandshakeError(CLOSE_BAD_REQUEST, f"handshake must be text: {USAGE}")
        return message

    async def _serve_subscriber(self, ws: ServerConnection, hello: Hello) -> None:
        # Registered before OK: nothing published after the client reads OK is missed.
        sub = Subscriber(ws, hello.cameras, asyncio.Queue(self.queue_size))
        self.subscribers.add(sub)
        self.counters.connected += 1
        cameras = "all" if hello.cameras is None else ",".join(map(str, sorted(hello.cameras)))
        log.info("client %s subscribed (cameras: %s); %d subscribers", sub.name, cameras, len(self.subscribers))
        sender = None
        try:
            await ws.send("OK")
            sender = asyncio.create_task(self._send_loop(sub))
            async for _ignored in ws:  # read on, so that a client's close is seen at once
                pass
        except ConnectionClosed:
            pass
        finally:
            self.subscribers.discard(sub)
            self.counters.disconnected += 1
            if sender is not None:
                sender.cancel()
            log.info("client %s gone (%d sent, %d dropped); %d subscribers",
                     sub.name, sub.sent, sub.dropped, len(self.subscribers))

    async def _send_loop(self, sub: Subscriber) -> None:
        """The only place that awaits this client: a slow one slows only itself."""
        try:
            while True:
                data = await sub.queue.get()
                await sub.ws.send(data, text=True)
                sub.sent += 1
                self.counters.sent += 1
        except ConnectionClosed:
            pass
        except Exception:  # never leave a client connected to a sender that died
            log.exception("sending to client %s failed", sub.name)
            await sub.ws.close(1011, "internal error")

    def fan_out(self, camera_id: int, data: bytes) -> None:
        """Offer one message to every subscriber of its camera; never waits."""
        self.counters.received += 1
        for sub in self.subscribers:
            if sub.wants(camera_id) and not sub.offer(data):
                self.counters.dropped += 1

    def status(self) -> dict[str, Any]:
        return {"subscribers": len(self.subscribers), "redis": "up" if self.redis_up else "down",
                **self.counters.as_dict()}

    # --- Redis side -----------------------------------------------------------
    async def follow_redis(self) -> None:
        """Relay Redis messages forever; an outage is logged once, then retried with backoff."""
        delay = self.backoff_s[0]
        while True:
            try:
                await self._listen()
            except Exception as exc:  # whatever it was, the relay must keep following Redis
                if self.redis_failures == 0:  # the first failure of an outage
                    expected = isinstance(exc, redis.RedisError | OSError)
                    log.warning("Redis unavailable (%s); clients stay connected, retrying with backoff",
                                exc, exc_info=not expected)
                    delay = self.backoff_s[0]
                self.redis_up = False
                self.redis_failures += 1
                self.counters.redis_retries += 1
            log.debug("reconnecting to Redis in %.1fs (attempt %d)", delay, self.redis_failures)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_s[1])

    async def _listen(self) -> None:
        """Follow the faces channels until the connection fails (always by raising)."""
        client = aioredis.Redis.from_url(
            self.redis_url, socket_connect_timeout=5, socket_keepalive=True,
            socket_keepalive_options=_keepalive_options(), retry=Retry(NoBackoff(), 0),
        )
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe(FACES_PATTERN)
            if self.redis_failures:
                log.info("Redis is back after %d failed attempts", self.redis_failures)
            log.info("following Redis channels %s", FACES_PATTERN)
            self.redis_up, self.redis_failures = True, 0
            async for message in pubsub.listen():
                if message["type"] == "pmessage":
                    self._on_message(message["channel"], message["data"])
                    await asyncio.sleep(0)  # let the senders run between messages of a burst
            raise redis.ConnectionError("the subscription ended")
        finally:
            await pubsub.aclose()
            await client.aclose()

    def _on_message(self, channel: bytes, data: bytes) -> None:
        camera_id = camera_of(channel)
        try:
            data.decode("utf-8")  # a text frame must be UTF-8; checked once, not per client
        except UnicodeDecodeError:
            camera_id = None
        if camera_id is None:
            self.counters.invalid += 1
            if self.counters.invalid == 1:
                log.warning("ignoring a message on %r that is not UTF-8 faces JSON of a camera", channel)
            return
        self.fan_out(camera_id, data)


def _keepalive_options() -> dict[int, int]:
    """Notice a Redis connection that died silently within about a minute, not two hours."""
    names = {"TCP_KEEPIDLE": 30, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3}
    return {getattr(socket, name): value for name, value in names.items() if hasattr(socket, name)}


async def log_counters(relay: Relay, interval_s: float) -> None:
    """One line of totals when they changed, in place of metrics for now."""
    last: dict[str, Any] = {}
    while True:
        await asyncio.sleep(interval_s)
        status = relay.status()
        if status != last:
            log.info("counters: %s", " ".join(f"{key}={value}" for key, value in status.items()))
            last = status


async def run(relay: Relay, host: str, port: int, stats_interval_s: float = 60.0,
              ping_interval_s: float | None = 20.0) -> None:
    """Serve until SIGTERM or SIGINT, then close every connection (1001) and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # No compression: base64 JPEG barely shrinks and deflate would cost CPU per client.
    async with serve(relay.handle, host, port, compression=None, max_size=2**16,
                     close_timeout=3, ping_interval=ping_interval_s, ping_timeout=20) as server:
        tasks = [asyncio.create_task(relay.follow_redis()),
                 asyncio.create_task(log_counters(relay, stats_interval_s))]
        log.info("faces relay listening on ws://%s:%d (tokens %s)", host, port,
                 "required" if relay.tokens else "not required")
        await stop.wait()
        log.info("stopping: closing %d subscribers", len(relay.subscribers))
        server.close()
        await server.wait_closed()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    log.info("faces relay stopped; counters: %s", relay.counters.as_dict())


def main(argv: list[str] | None = None) -> int:
    """The process entry point: configuration, logging, then serve until a signal."""
    config = load_config()
    parser = argparse.ArgumentParser(prog="python -m server.faces_ws", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=config["FACE_WS_ADDRESS"], help="default: FACE_WS_ADDRESS")
    parser.add_argument("--port", type=int, default=config["FACE_WS_PORT"], help="default: FACE_WS_PORT")
    parser.add_argument("--queue-size", type=int, default=64,
                        help="messages kept per slow client before its oldest are dropped (default 64)")
    parser.add_argument("--stats-interval", type=float, default=60.0, help="seconds between counter logs")
    parser.add_argument("--handshake-timeout", type=float, default=10.0,
                        help="seconds a client has to send its handshake (default 10)")
    parser.add_argument("--ping-interval", type=float, default=20.0,
                        help="keepalive pings to clients; a client that does not answer within 20 s "
                             "is dropped (0: no pings; default 20)")
    args = parser.parse_args(argv)
    setup_logging(config["LOG_LEVEL"])
    logging.getLogger("websockets").setLevel(logging.WARNING)  # we log each client ourselves
    relay = Relay(config["REDIS_URL"], list(config["FACE_WS_TOKENS"]), queue_size=max(1, args.queue_size),
                  handshake_timeout_s=args.handshake_timeout)
    asyncio.run(run(relay, args.host, args.port, args.stats_interval, args.ping_interval or None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
