"""The faces relay as a real process: handshake, tokens, camera filter, departures, shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.faces_pub import publish_faces
from tests.faces.conftest import TOKENS
from tests.faces.facekit import ROOT, Relay, faces_message, wait_for


def close_code(ws: ClientConnection) -> tuple[int, str]:
    """Read until the relay closes the connection; the code and reason it gave."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def receive_until_last(ws: ClientConnection) -> list[dict]:
    """Messages up to the first marked ``last``: everything published before it has arrived."""
    got = []
    while not got or not got[-1].get("last"):
        got.append(json.loads(ws.recv(timeout=10)))
    return got


def test_client_gets_ok_then_each_published_message_as_sent(relay: Relay, publisher: redis.Redis) -> None:
    with relay.subscribe() as ws:
        sent = [faces_message(1, seq) for seq in range(3)]
        for message in sent:
            publish_faces(publisher, message)
        assert [json.loads(ws.recv(timeout=10)) for _ in sent] == sent


@pytest.mark.parametrize(
    ("hello", "code", "reason"),
    [
        ("hello", 4400, "expected 'client"),
        ("", 4400, "expected 'client"),
        (b"client", 4400, "handshake must be text"),
        ("client camera=one", 4400, "camera= wants"),
        ("client camera=", 4400, "camera= wants"),
        ("client a b", 4400, "expected 'client"),
        (None, 4408, "handshake timeout"),  # nothing sent within --handshake-timeout
    ],
)
def test_bad_handshakes_are_closed_with_a_code_and_reason(
    relay: Relay, hello: str | bytes | None, code: int, reason: str
) -> None:
    with connect(relay.url) as ws:
        if hello is not None:
            ws.send(hello)
        got_code, got_reason = close_code(ws)
    assert got_code == code
    assert got_reason.startswith(reason)


@pytest.mark.parametrize(
    ("messages", "accepted"),
    [
        ([f"client {TOKENS[0]}"], True),
        ([f"client {TOKENS[1]} camera=1"], True),
        (["client", TOKENS[0]], True),  # the token in a second message
        (["client camera=1", TOKENS[1]], True),
        ([f"client {TOKENS[0]}x"], False),
        (["client", "wrong"], False),
        (["client", ""], False),
        (["client"], False),  # and nothing more within the handshake timeout
    ],
)
def test_tokens_in_one_or_two_messages(
    token_relay: Relay, publisher: redis.Redis, messages: list[str], accepted: bool
) -> None:
    with connect(token_relay.url) as ws:
        for message in messages:
            ws.send(message)
        if not accepted:
            assert close_code(ws) == (4401, "missing or wrong token")
            return
        assert ws.recv(timeout=10) == "OK"
        publish_faces(publisher, faces_message(1, 0) | {"last": True})
        assert json.loads(ws.recv(timeout=10))["camera_id"] == 1


def test_status_needs_the_token_where_tokens_are_set(token_relay: Relay) -> None:
    assert token_relay.status(TOKENS[0])["subscribers"] == 0
    with connect(token_relay.url) as ws:
        ws.send("status")
        ws.send("nope")
        assert close_code(ws)[0] == 4401
    assert TOKENS[0] not in token_relay.log and "nope" not in token_relay.log


def test_camera_filter_from_the_message_the_query_or_both(relay: Relay, publisher: redis.Redis) -> None:
    clients = {
        "all": relay.subscribe("client"),
        "message": relay.subscribe("client camera=1"),
        "query": relay.subscribe("client", "/?camera=2,3"),
        "both": relay.subscribe("client camera=3,1", "/?camera=1,2"),
    }
    for seq in range(12):
        publish_faces(publisher, faces_message(seq % 3 + 1, seq))
    for camera in (1, 2, 3):  # whoever sees one of these has seen everything published before it
        publish_faces(publisher, faces_message(camera, 100 + camera) | {"last": True})

    cameras = {name: [m["camera_id"] for m in receive_until_last(ws) if not m.get("last")]
               for name, ws in clients.items()}
    assert cameras == {"all": [1, 2, 3] * 4, "message": [1] * 4, "query": [2, 3] * 4, "both": [1] * 4}
    for ws in clients.values():
        ws.close()


CLIENT = """
import sys, time
from websockets.sync.client import connect
ws = connect(sys.argv[1])
ws.send("client")
assert ws.recv() == "OK"
print("ready", flush=True)
time.sleep(600)
"""


def test_a_client_killed_mid_stream_is_cleaned_up(relay: Relay, publisher: redis.Redis) -> None:
    """SIGKILL leaves no close frame: the relay must notice the dead socket on its own."""
    with relay.subscribe() as survivor:
        client = subprocess.Popen([sys.executable, "-c", CLIENT, relay.url], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert client.stdout is not None and client.stdout.readline().strip() == "ready"
            assert relay.status()["subscribers"] == 2
            os.kill(client.pid, signal.SIGKILL)
        finally:
            client.wait()
        for seq in range(50):
            publish_faces(publisher, faces_message(1, seq, img_bytes=20_000))
        wait_for(lambda: relay.status()["subscribers"] == 1, what="the dead client to be dropped")
        assert [json.loads(survivor.recv(timeout=10))["seq"] for _ in range(50)] == list(range(50))
    wait_for(lambda: relay.status()["disconnected"] == 2, what="the survivor's departure")
    assert relay.status()["subscribers"] == 0
    assert relay.log.count(" gone (") == 2


def test_sigterm_closes_clients_with_going_away(tmp_path: Path, redis_url: str) -> None:
    relay = Relay(tmp_path, redis_url)
    try:
        ws = relay.subscribe()
        relay.terminate()
        assert close_code(ws)[0] == 1001
    finally:
        assert relay.stop() == 0
    assert "faces relay stopped" in relay.log


def test_messages_that_are_not_faces_of_a_camera_are_ignored(relay: Relay, publisher: redis.Redis) -> None:
    with relay.subscribe() as ws:
        publisher.publish("hypersight:faces:abc", b"{}")
        publisher.publish("hypersight:faces:1", b"\xff\xfe not utf-8")
        publish_faces(publisher, faces_message(1, 7) | {"last": True})
        assert [m["seq"] for m in receive_until_last(ws)] == [7]
    assert relay.status()["invalid"] == 2
