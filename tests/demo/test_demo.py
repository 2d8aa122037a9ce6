"""`make demo`'s program, run headless for a bounded time: non-zero figures over HTTP, then a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import sample_video
from tests.support.servers import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.mark.slow
def test_demo_counts_people_and_stops_cleanly(tmp_path):
    video = sample_video()
    if video is None:
        pytest.skip("no sample video (HYPERSIGHT_SAMPLE_VIDEO, ../shared/data/vtest.avi or opencv-doc's)")
    port = free_port()
    home = tmp_path / "demo"
    demo = subprocess.Popen([sys.executable, "-m", "server.demo", "--port", str(port), "--home", str(home),
                             "--video", str(video)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        output = ""
        while "Press Ctrl-C" not in output:
            line = demo.stdout.readline()
            assert line, f"demo exited early:\n{output}"
            output += line
        traffic_call = re.search(r"traffic: +curl -s -XPOST (\S+) -d '(.+)'", output)
        objects_call = re.search(r"objects now: +curl -s -XPOST (\S+) -d '(.+)'", output)
        assert traffic_call and objects_call and "login: admin / " in output

        def figure(call, key):
            try:
                return requests.post(call.group(1), data=call.group(2), timeout=10).json().get(key)
            except requests.ConnectionError:  # the web app is still starting
                return None

        # The printed curl calls answer non-zero figures within a minute (two, on a busy CI machine).
        wait_until(lambda: figure(traffic_call, "traffic"), timeout_s=150, step_s=2.0, what="traffic counted")
        wait_until(lambda: figure(objects_call, "count"), timeout_s=60, step_s=2.0, what="objects counted")
        status = requests.get(f"http://127.0.0.1:{port}/statusWatch", timeout=10).json()
        assert [camera["state"] for camera in status.values()] == ["streaming"]
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=90)
    assert demo.returncode == 0, rest
    assert "stopped." in rest
    pids = [int(line.split()[0]) for line in (home / "logs" / "pids").read_text().splitlines()]
    assert len(pids) == 7
    assert not [pid for pid in pids if _alive(pid)], "processes left running after Ctrl-C"
