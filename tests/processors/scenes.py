"""Scripted scenes: people walking on straight legs, turned into per-frame detections.

A scene knows its answers (how many zone entries, which object counts) because
they were worked out by hand from the script, not by running the code under
test. Paths give the bottom centre of each person in relative coordinates at
given times; positions in between are linear. The frame is 640x480, a person
0.2 of the frame tall (96 px) and 0.08 wide (51 px); at the usual 0.1 of the
frame width a second a walker moves 64 px a second, more than their own width,
so at 1 frame a second their boxes in consecutive frames do not overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from server.processors.frames import Detections, Frame

FRAME_WH = (640, 480)
T0 = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)
_BLANK = np.zeros((FRAME_WH[1], FRAME_WH[0], 3), dtype=np.uint8)

# A vertical band in the middle of the frame, a common "doorway" zone.
BAND = [[0.4, 0.0], [0.6, 0.0], [0.6, 1.0], [0.4, 1.0]]
LEFT_BAND = [[0.15, 0.0], [0.3, 0.0], [0.3, 1.0], [0.15, 1.0]]
RIGHT_BAND = [[0.7, 0.0], [0.85, 0.0], [0.85, 1.0], [0.7, 1.0]]
# Along the left edge of the frame: people leave the frame through it.
LEFT_EDGE = [[0.0, 0.0], [0.2, 0.0], [0.2, 1.0], [0.0, 1.0]]


@dataclass(frozen=True)
class Walker:
    """One person: ``path`` is ``(t_s, x_rel, y_rel)`` of the bottom centre; visible from first to last t.

    ``missed`` lists ``(t_s, n)``: the detector misses this person in the n frames from the one at t_s.
    """

    path: tuple[tuple[float, float, float], ...]
    height: float = 0.2
    width: float = 0.08
    missed: tuple[tuple[float, int], ...] = ()
    score: float = 0.9
    class_id: int = 0

    def position(self, t_s: float) -> tuple[float, float] | None:
        times = [p[0] for p in self.path]
        if t_s < times[0] - 1e-9 or t_s > times[-1] + 1e-9:
            return None
        x = float(np.interp(t_s, times, [p[1] for p in self.path]))
        y = float(np.interp(t_s, times, [p[2] for p in self.path]))
        return x, y

    def is_missed(self, frame_index: int, fps: float) -> bool:
        return any(round(t * fps) <= frame_index < round(t * fps) + n for t, n in self.missed)


@dataclass(frozen=True)
class Scene:
    """Walkers, zones and the answers: zone entries (traffic) and object-count events."""

    name: str
    walkers: tuple[Walker, ...]
    zones: tuple = (BAND,)
    traffic: int = 0
    # Values of the ObjectsCounter's events, at 1 and at 5 frames a second where they differ.
    objects: tuple[int, ...] | None = None
    objects_5fps: tuple[int, ...] | None = None
    jitter: float = 0.0
    duration_s: float = 0.0

    def length_s(self) -> float:
        return self.duration_s or max(w.path[-1][0] for w in self.walkers)

    def frames(self, fps: float, seed: int = 0) -> list[Frame]:
        """Frames at ``fps``, each with the detections of the walkers in view."""
        rng = np.random.default_rng(seed)
        return [self._frame(index, fps, rng) for index in range(self.frame_count(fps))]

    def truth(self, fps: float) -> list[list[int]]:
        """For each frame, the walker index of each detection (to check track identities)."""
        return [self._visible(i, fps)[1] for i in range(self.frame_count(fps))]

    def frame_count(self, fps: float) -> int:
        return round(self.length_s() * fps) + 1

    def _visible(self, index: int, fps: float) -> tuple[list[list[float]], list[int]]:
        rows, who = [], []
        for number, walker in enumerate(self.walkers):
            position = walker.position(index / fps)
            if position is None or walker.is_missed(index, fps):
                continue
            x, y = position
            box = [x - walker.width / 2, y - walker.height, x + walker.width / 2, y]
            rows.append([*box, walker.score, walker.class_id])
            who.append(number)
        return rows, who

    def _frame(self, index: int, fps: float, rng: np.random.Generator) -> Frame:
        rows, _ = self._visible(index, fps)
        array = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        if self.jitter and len(array):
            heights = (array[:, 3] - array[:, 1])[:, None]
            array[:, :4] += rng.normal(0, self.jitter, (len(array), 4)) * heights
        array[:, :4] = array[:, :4].clip(0, 1)
        return Frame(_BLANK, T0 + timedelta(seconds=index / fps), Detections.from_rows(array))


def walk(*legs: tuple[float, float, float], **kwargs) -> Walker:
    """A walker from ``(t_s, x, y)`` points."""
    return Walker(path=tuple(legs), **kwargs)


# Bottom zones: along the bottom edge, and two bands that touch at x = 0.5.
BOTTOM_EDGE = [[0.0, 0.85], [1.0, 0.85], [1.0, 1.0], [0.0, 1.0]]
TOUCH_LEFT = [[0.3, 0.0], [0.5, 0.0], [0.5, 1.0], [0.3, 1.0]]
TOUCH_RIGHT = [[0.5, 0.0], [0.7, 0.0], [0.7, 1.0], [0.5, 1.0]]

SCENES = [
    # One person crosses the band left to right at 0.1 of the frame a second.
    Scene("walk_through", (walk((0, 0.05, 0.8), (9, 0.95, 0.8)),), traffic=1, objects=(0, 1, 0)),
    # In, out, in again: two entries.
    Scene(
        "in_out_in",
        (walk((0, 0.1, 0.8), (4, 0.5, 0.8), (7, 0.2, 0.8), (10, 0.5, 0.8)),),
        traffic=2,
        objects=(0, 1, 0, 1),
    ),
    # Starts inside (not counted), leaves, comes back (counted).
    Scene("starts_inside", (walk((0, 0.5, 0.8), (3, 0.2, 0.8), (6, 0.5, 0.8)),), traffic=1, objects=(1, 0, 1)),
    # Walks in, stands for 10 s with jittery boxes, walks out.
    Scene(
        "pause_inside_jitter",
        (walk((0, 0.1, 0.8), (4, 0.5, 0.8), (14, 0.5, 0.8), (18, 0.9, 0.8)),),
        traffic=1,
        objects=(0, 1, 0),
        jitter=0.03,
    ),
    # Missed for two frames just before the zone: last seen outside, next seen inside.
    Scene("missed_before_entry", (walk((0, 0.05, 0.8), (9, 0.95, 0.8), missed=((3, 2),)),), traffic=1,
          objects=(0, 1, 0)),
    # Missed for one frame inside the zone: the objects count dips, the traffic does not.
    Scene("missed_inside", (walk((0, 0.05, 0.5), (9, 0.95, 0.5), missed=((5, 1),)),), traffic=1,
          objects=(0, 1, 0), objects_5fps=(0, 1, 0, 1, 0)),
    # Two people cross head-on in the zone; one hides the other in the crossing frame.
    Scene(
        "crossing_in_zone",
        (walk((0, 0.1, 0.8), (8, 0.9, 0.8)), walk((0, 0.9, 0.82), (8, 0.1, 0.82), missed=((4, 1),))),
        traffic=2,
        objects=(0, 2, 1, 2, 0),
    ),
    # Two people's paths cross (an X) outside the zone, then both enter it at the same time.
    Scene(
        "crossing_before_zone",
        (walk((0, 0.05, 0.55), (10, 0.55, 0.95)), walk((0, 0.05, 0.95), (10, 0.55, 0.55))),
        traffic=2,
        objects=(0, 2),
    ),
    # Two people side by side (boxes overlapping) walk through together.
    Scene(
        "side_by_side",
        (walk((0, 0.05, 0.75), (9, 0.95, 0.75)), walk((0, 0.05, 0.85), (9, 0.95, 0.85))),
        traffic=2,
        objects=(0, 2, 0),
    ),
    # One behind the other on the same line, 1.6 s (100 px) apart.
    Scene(
        "one_behind_the_other",
        (walk((0, 0.05, 0.8), (9, 0.95, 0.8)), walk((1.6, 0.05, 0.8), (10.6, 0.95, 0.8))),
        traffic=2,
        objects=(0, 1, 0),
        objects_5fps=(0, 1, 2, 1, 0),
    ),
    # A runner at 0.2 of the frame a second: at 1 fps it is inside for a single frame.
    Scene("runner", (walk((0, 0.05, 0.8), (4.5, 0.95, 0.8)),), traffic=1, objects=(0, 1, 0)),
    # Two zones: one person crosses both (2 entries), another enters only the right one.
    Scene(
        "two_zones",
        (walk((0, 0.02, 0.8), (10, 0.98, 0.8)), walk((0, 0.5, 0.6), (5, 0.95, 0.6))),
        zones=(LEFT_BAND, RIGHT_BAND),
        traffic=3,
        objects=(0, 1, 0, 1, 0),
        objects_5fps=(0, 1, 2, 1, 0, 1, 0),
    ),
    # Two zones that touch: walking from one straight into the other is one entry.
    Scene(
        "touching_zones",
        (walk((0, 0.05, 0.8), (9, 0.95, 0.8)),),
        zones=(TOUCH_LEFT, TOUCH_RIGHT),
        traffic=1,
        objects=(0, 1, 0),
    ),
    # A zone at the left edge: one leaves the frame through it (counted), one appears in it (not).
    Scene(
        "left_edge_zone",
        (walk((0, 0.6, 0.7), (6, 0.0, 0.7)), walk((0, 0.02, 0.9), (6, 0.62, 0.9))),
        zones=(LEFT_EDGE,),
        traffic=1,
        objects=(1, 0, 1),
    ),
    # A zone along the bottom edge: walking towards the camera until the feet touch the edge.
    Scene("bottom_edge_zone", (walk((0, 0.5, 0.5), (5, 0.5, 1.0)),), zones=(BOTTOM_EDGE,), traffic=1,
          objects=(0, 1)),
    # Four people, two each way, crossing in the band, with jittery boxes.
    Scene(
        "crowd_jitter",
        (
            walk((0, 0.05, 0.6), (9, 0.95, 0.6)),
            walk((1, 0.05, 0.9), (10, 0.95, 0.9)),
            walk((0, 0.95, 0.7), (9, 0.05, 0.7)),
            walk((2, 0.95, 0.8), (11, 0.05, 0.8)),
        ),
        traffic=4,
        jitter=0.03,
    ),
]
