"""Helpers for the faces tests: the relay as a real subprocess, messages."""

from __future__ import annotations

import base64
import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.support.servers import free_port, wait_for_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


# Processes here answer in milliseconds: poll often.
wait_for = functools.partial(wait_until, step_s=0.05)


def faces_message(camera_id: int, seq: int, img_bytes: int = 64) -> dict[str, Any]:
    """A message shaped as DESIGN.md's, with ``seq`` to check order and a filler image."""
    img = base64.b64encode(os.urandom(img_bytes * 3 // 4)).decode()
    return {
        "frame_ts": f"2026-03-27 14:21:01.{seq:06d}", "container": "jpg", "camera_id": camera_id,
        "camera_url": f"http://cameras.test/{camera_id}.m3u8", "seq": seq,
        "faces": [{"bbox": [10, 20, 74, 84], "conf": 0.93, "shape": [64, 64, 3], "img": img}],
    }


class Relay:
    """``python -m server.faces_ws`` on a free port, its log in a file, stopped with SIGTERM."""

    def __init__(self, workdir: Path, redis_url: str, tokens: list[str] | None = None,
                 *args: str, log_level: str = "INFO") -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.log_path = workdir / f"relay-{self.port}.log"
        instance = workdir / "instance"  # empty: no operator config.py leaks into the test
        instance.mkdir(exist_ok=True)
        env = {**os.environ, "HYPERSIGHT_REDIS_URL": redis_url, "HYPERSIGHT_INSTANCE_DIR": str(instance),
               "HYPERSIGHT_FACE_WS_TOKENS": json.dumps(tokens or []), "HYPERSIGHT_LOG_LEVEL": log_level}
        self._log = self.log_path.open("w")
        self._terminated = False
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.faces_ws", "--host", "127.0.0.1", "--port", str(self.port),
             "--stats-interval", "1", *args],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, proc=self.proc)
        # Subscribed before any test publishes: a message sent earlier would reach no one.
        wait_for(lambda: "following Redis channels" in self.log, what="the relay to follow Redis")

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def terminate(self) -> None:
        """SIGTERM, once: a second one during the final shutdown would find no handler left."""
        if not self._terminated:
            self._terminated = True
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        """SIGTERM, as systemd does; returns the exit status."""
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def subscribe(self, hello: str = "client", path: str = "/", **kwargs: Any) -> ClientConnection:
        """A connected client past the handshake (``OK`` received)."""
        ws = connect(self.url + path, open_timeout=10, legacy=True, **kwargs)  # caller closes it
        ws.send(hello)
        assert ws.recv(timeout=10) == "OK"
        return ws

    def status(self, token: str | None = None) -> dict[str, Any]:
        with connect(self.url, open_timeout=10) as ws:
            ws.send("status" + (f" {token}" if token else ""))
            return json.loads(ws.recv(timeout=10))


@contextmanager
def relay_process(workdir: Path, redis_url: str, tokens: list[str] | None = None,
                  *args: str, log_level: str = "INFO") -> Iterator[Relay]:
    relay = Relay(workdir, redis_url, tokens, *args, log_level=log_level)
    try:
        yield relay
    finally:
        code = relay.stop()
    assert code == 0, f"relay exited with {code}:\n{relay.log}"
