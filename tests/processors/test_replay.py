"""The replay CLI on vtest.avi, with the real detector service (HOG people): are the counts plausible?

How the expected answer was found, by eye and without the code under test: the
column x = 0.45 of every frame of vtest.avi was stacked into one image (a slit
scan, time across, the column down), where each person walking through that
column leaves a narrow silhouette; their times are ``CROSSINGS_S``. The zone is a
band x 0.40..0.50 around that column, so every crossing is one entry into it. HOG
misses some people (small ones on the far path), so the count may fall short of
them; what it counts must match a crossing in time.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import sample_video

REPO_ROOT = Path(__file__).resolve().parents[2]
BAND = [[[0.40, 0.0], [0.50, 0.0], [0.50, 1.0], [0.40, 1.0]]]
DURATION_S = 40
# People crossing x = 0.45 in the first 40 s of vtest.avi, seconds from its start (slit scan, by eye).
CROSSINGS_S = [1.2, 6.3, 9.7, 16.3, 18.2, 22.3, 26.0, 28.3, 29.4, 30.5, 32.4, 33.7, 34.0, 36.8]
EVENT = re.compile(r"^2000-01-01 00:(\d\d):(\d\d\.\d+)\s+(\w+)\s+(\d+)$")


@pytest.fixture(scope="module")
def replay_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    video = sample_video()
    if video is None:
        pytest.skip("vtest.avi not found: set HYPERSIGHT_SAMPLE_VIDEO or provide ../shared/data/vtest.avi")
    zones = tmp_path_factory.mktemp("replay") / "band.json"
    zones.write_text(json.dumps(BAND))
    command = [sys.executable, "-m", "server.processors.replay", str(video), "--zones", str(zones), "--fps", "2",
               "--type", "traffic,object", "--max-s", str(DURATION_S)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def events(output: str, kind: str) -> list[tuple[float, int]]:
    found = []
    for line in output.splitlines():
        match = EVENT.match(line)
        if match and match.group(3) == kind:
            found.append((int(match.group(1)) * 60 + float(match.group(2)), int(match.group(4))))
    return found


@pytest.mark.slow
def test_traffic_entries_match_the_people_seen_crossing(replay_output: str) -> None:
    entries = events(replay_output, "traffic")
    total = sum(value for _, value in entries)
    assert len(CROSSINGS_S) * 0.6 <= total <= len(CROSSINGS_S) + 2, replay_output
    matched = [ts for ts, _ in entries if min(abs(ts - c) for c in CROSSINGS_S) <= 1.5]
    assert len(matched) >= 0.75 * len(entries), f"entries at times nobody crossed: {entries}"


@pytest.mark.slow
def test_objects_in_the_band_stay_within_what_the_band_holds(replay_output: str) -> None:
    counts = [value for _, value in events(replay_output, "object")]
    assert counts[0] >= 0 and len(counts) >= len(CROSSINGS_S), "one change at least per crossing"
    assert max(counts) <= 3, "by eye, the band never holds more than 3 people at once in these 40 s"
    assert all(a != b for a, b in itertools.pairwise(counts)), "an event only when the count changes"


@pytest.mark.slow
def test_totals_close_the_output(replay_output: str) -> None:
    last = replay_output.strip().splitlines()[-1]
    total = sum(value for _, value in events(replay_output, "traffic"))
    assert last.startswith("totals: frames 80;")
    assert f"traffic {total} entries" in last
