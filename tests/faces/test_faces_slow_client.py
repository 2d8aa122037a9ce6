"""A subscriber that never reads must not hold back the others (counts and order, never timings)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from server.faces_pub import faces_channel
from tests.faces.facekit import faces_message, relay_process

MESSAGES = 2000
IMG_BYTES = 50_000
QUEUE = 64
# The publisher stays at most WINDOW messages ahead of the slowest *fast* client, so a fast
# client's queue never fills and it must get everything; the stuck client gets no such care.
WINDOW = QUEUE // 2
FAST_CLIENTS = 3


async def hello(url: str, **kwargs: object) -> ClientConnection:
    ws = await connect(url, **kwargs)
    await ws.send("client")
    assert await ws.recv() == "OK"
    return ws


async def read_seqs(ws: ClientConnection, into: list[int], progress: asyncio.Event) -> None:
    while not into or into[-1] != MESSAGES - 1:
        into.append(json.loads(await ws.recv())["seq"])
        progress.set()


async def publish_all(redis_url: str, received: list[list[int]], progress: asyncio.Event) -> None:
    client = aioredis.Redis.from_url(redis_url)
    filler = faces_message(1, 0, IMG_BYTES)["faces"]
    try:
        for seq in range(MESSAGES):
            while min(len(got) for got in received) < seq - WINDOW:
                progress.clear()
                await progress.wait()
            payload = json.dumps(faces_message(1, seq, 0) | {"faces": filler})
            await client.publish(faces_channel(1), payload)
    finally:
        await client.aclose()


async def scenario(url: str, redis_url: str) -> tuple[list[list[int]], list[int]]:
    # The stuck client reads nothing: its library buffers one message, then TCP fills up.
    stuck = await hello(url, max_queue=1, ping_interval=None)
    fast = [await hello(url, max_size=None) for _ in range(FAST_CLIENTS)]
    received: list[list[int]] = [[] for _ in fast]
    progress = asyncio.Event()
    readers = [asyncio.create_task(read_seqs(ws, got, progress)) for ws, got in zip(fast, received, strict=True)]
    await publish_all(redis_url, received, progress)
    await asyncio.gather(*readers)

    # Only now does the stuck client read: what it kept, oldest dropped, newest last.
    stuck_seqs: list[int] = []
    await read_seqs(stuck, stuck_seqs, asyncio.Event())
    for ws in [stuck, *fast]:
        await ws.close()
    return received, stuck_seqs


def test_a_stuck_client_loses_old_messages_and_delays_no_one(tmp_path: Path, redis_url: str) -> None:
    with relay_process(tmp_path, redis_url, None, "--queue-size", str(QUEUE), "--ping-interval", "0") as relay:
        received, stuck = asyncio.run(asyncio.wait_for(scenario(relay.url, redis_url), timeout=240))
        status = relay.status()

    for got in received:
        assert got == list(range(MESSAGES))
    assert len(stuck) < MESSAGES
    assert stuck == sorted(set(stuck))  # in order, no repeats
    assert stuck[-1] == MESSAGES - 1  # drop-oldest keeps the newest
    assert status["dropped"] == MESSAGES - len(stuck)
    assert status["sent"] == FAST_CLIENTS * MESSAGES + len(stuck)
