"""The assignment solver and the tracker's life cycle, on hand-made boxes."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import pytest

from server.processors.assignment import linear_assignment
from server.processors.tracking import Tracker, TrackerConfig

T0 = datetime(2024, 5, 6, 12, 0)


def brute_force_cost(cost: np.ndarray) -> float:
    rows, cols = cost.shape
    if rows <= cols:
        return min(sum(cost[r, p[r]] for r in range(rows)) for p in itertools.permutations(range(cols), rows))
    return min(sum(cost[p[c], c] for c in range(cols)) for p in itertools.permutations(range(rows), cols))


@pytest.mark.parametrize(
    ("cost", "pairs"),
    [
        ([[4.0, 1.0], [2.0, 3.0]], [(0, 1), (1, 0)]),
        ([[1.0, 2.0, 0.5]], [(0, 2)]),
        ([[1.0], [0.2], [3.0]], [(1, 0)]),
        # Greedy would take (0, 0) at 1 and be left with (1, 1) at 10; the optimum is 2 + 2.
        ([[1.0, 2.0], [2.0, 10.0]], [(0, 1), (1, 0)]),
        (np.zeros((0, 3)), []),
    ],
)
def test_linear_assignment_table(cost, pairs) -> None:
    assert linear_assignment(np.array(cost)) == pairs


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2), (6, 6)])
def test_linear_assignment_is_optimal(shape) -> None:
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = rng.random(shape) * 10
        pairs = linear_assignment(cost)
        assert len(pairs) == min(shape)
        assert sum(cost[r, c] for r, c in pairs) == pytest.approx(brute_force_cost(cost))


def test_linear_assignment_refuses_infinite_costs() -> None:
    with pytest.raises(ValueError, match="finite"):
        linear_assignment(np.array([[np.inf, 1.0]]))


def person(x_px: float, height_px: float = 100.0) -> list[float]:
    return [x_px - height_px * 0.2, 300 - height_px, x_px + height_px * 0.2, 300]


def test_boxes_that_do_not_overlap_keep_their_track() -> None:
    """1 frame a second, 80 px a step: the boxes (40 px wide) never overlap."""
    tracker = Tracker()
    ids = [tracker.update(np.array([person(100 + 80 * k)]), T0 + timedelta(seconds=k)) for k in range(8)]
    assert ids == [[1]] * 8


def test_a_track_lives_on_across_segments_and_missed_frames() -> None:
    tracker = Tracker()
    for k in range(3):
        tracker.update(np.array([person(100 + 60 * k)]), T0 + timedelta(seconds=k))
    # Two frames without the person (a new segment could start between them).
    assert tracker.update(np.zeros((0, 4)), T0 + timedelta(seconds=3)) == []
    assert tracker.update(np.zeros((0, 4)), T0 + timedelta(seconds=4)) == []
    assert tracker.update(np.array([person(100 + 60 * 5)]), T0 + timedelta(seconds=5)) == [1]


def test_a_track_missed_too_long_is_forgotten() -> None:
    config = TrackerConfig(max_misses=2, max_age_s=2.0)
    tracker = Tracker(config)
    tracker.update(np.array([person(100)]), T0)
    for k in range(1, 4):
        tracker.update(np.zeros((0, 4)), T0 + timedelta(seconds=k))
    assert tracker.tracks == []
    assert tracker.update(np.array([person(100)]), T0 + timedelta(seconds=4)) == [2]


def test_at_five_frames_a_second_a_track_survives_a_one_second_gap() -> None:
    """Misses are counted in frames and seconds: 5 missed frames are only 1 s."""
    tracker = Tracker()
    for k in range(5):
        tracker.update(np.array([person(100 + 12 * k)]), T0 + timedelta(seconds=k / 5))
    for k in range(5, 10):
        tracker.update(np.zeros((0, 4)), T0 + timedelta(seconds=k / 5))
    assert tracker.update(np.array([person(100 + 12 * 10)]), T0 + timedelta(seconds=2)) == [1]


def test_a_far_detection_starts_a_new_track() -> None:
    tracker = Tracker()
    tracker.update(np.array([person(100)]), T0)
    assert tracker.update(np.array([person(600)]), T0 + timedelta(seconds=1)) == [2]


def test_a_much_bigger_box_is_another_object() -> None:
    tracker = Tracker()
    tracker.update(np.array([person(100, 100)]), T0)
    assert tracker.update(np.array([person(110, 250)]), T0 + timedelta(seconds=1)) == [2]


def test_two_people_crossing_keep_their_ids() -> None:
    """Head-on at 1 frame a second; at the crossing their boxes coincide."""
    tracker = Tracker()
    history = []
    for k in range(9):
        left, right = person(100 + 50 * k), person(500 - 50 * k)
        ids = tracker.update(np.array([left, right]), T0 + timedelta(seconds=k))
        history.append(ids)
    assert history[0] == [1, 2] and all(ids == [1, 2] for ids in history)


def test_tails_hold_recent_anchor_points() -> None:
    tracker = Tracker(TrackerConfig(tail_length=3))
    for k in range(5):
        tracker.update(np.array([person(100 + 10 * k)]), T0 + timedelta(seconds=k))
    assert list(tracker.tracks[0].tail_px) == [(120.0, 300.0), (130.0, 300.0), (140.0, 300.0)]
