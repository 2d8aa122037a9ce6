"""Zones, anchors and crops: table tests of the pure geometry functions."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from server.processors.geometry import (
    ZoneSet,
    anchor_points,
    box_scales_px,
    boxes_px,
    top_square_px,
    validate_zones,
)

SIZE_WH = (200, 100)
SQUARE = [[0.25, 0.2], [0.75, 0.2], [0.75, 0.8], [0.25, 0.8]]
LEFT_EDGE = [[0.0, 0.0], [0.2, 0.0], [0.2, 1.0], [0.0, 1.0]]
# An L shape: the notch at the top right is outside.
L_SHAPE = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("box", "anchor", "expected", "exception"),
    [
        ([10, 20, 30, 60], "bottom_center", [20, 60], does_not_raise()),
        ([10, 20, 30, 60], "center", [20, 40], does_not_raise()),
        ([0.1, 0.2, 0.3, 0.6], "center", [0.2, 0.4], does_not_raise()),
        ([10, 20, 30, 60], "top_left", None, pytest.raises(ValueError, match="anchor")),
    ],
)
def test_anchor_points(box, anchor, expected, exception) -> None:
    with exception:
        assert anchor_points(np.array([box]), anchor)[0] == pytest.approx(expected)


def test_anchor_points_of_no_boxes_is_empty() -> None:
    assert anchor_points(np.zeros((0, 4)), "center").shape == (0, 2)


def test_boxes_px_scales_x_by_width_and_y_by_height() -> None:
    assert boxes_px(np.array([[0.5, 0.5, 1.0, 1.0]]), SIZE_WH)[0] == pytest.approx([100, 50, 200, 100])


@pytest.mark.parametrize(
    ("box", "expected"),
    [([0, 0, 10, 40], 40), ([0, 0, 30, 10], 30), ([5, 5, 5, 5], 1e-6)],
)
def test_box_scales_px_is_the_larger_side(box, expected) -> None:
    assert box_scales_px(np.array([box]))[0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("zones", "point_rel", "inside"),
    [
        ([SQUARE], (0.5, 0.5), True),
        ([SQUARE], (0.1, 0.5), False),
        ([SQUARE], (0.75, 0.5), True),  # on the edge counts as inside
        ([SQUARE], (0.25, 0.8), True),  # on a corner too
        ([LEFT_EDGE], (0.0, 0.5), True),  # on the frame edge, which is the zone's edge
        ([LEFT_EDGE], (0.1, 1.0), True),  # a box touching the bottom of the frame
        ([LEFT_EDGE], (0.3, 1.0), False),
        ([L_SHAPE], (0.75, 0.25), False),  # in the notch of a concave zone
        ([L_SHAPE], (0.75, 0.75), True),
        ([SQUARE, LEFT_EDGE], (0.1, 0.1), True),  # in the second of two zones
        ([SQUARE, LEFT_EDGE], (0.9, 0.1), False),
        ([], (0.99, 0.01), True),  # no zones: the whole frame
    ],
)
def test_zone_set_contains(zones, point_rel, inside) -> None:
    point_px = np.array([[point_rel[0] * SIZE_WH[0], point_rel[1] * SIZE_WH[1]]])
    assert ZoneSet(zones, SIZE_WH).contains_px(point_px).tolist() == [inside]


def test_zone_set_answers_many_points_at_once() -> None:
    points = np.array([[100, 50], [0, 0], [150, 80], [10, 90]], dtype=float)
    assert ZoneSet([SQUARE], SIZE_WH).contains_px(points).tolist() == [True, False, True, False]


@pytest.mark.parametrize(
    ("point_px", "distance_px"),
    [((100, 50), 0.0), ((10, 50), 40.0), ((100, 0), 20.0), ((200, 100), np.hypot(50, 20))],
)
def test_zone_set_distance_is_in_pixels(point_px, distance_px) -> None:
    assert ZoneSet([SQUARE], SIZE_WH).distance_px(np.array([point_px]))[0] == pytest.approx(distance_px)


def test_self_intersecting_zone_is_repaired_not_refused() -> None:
    bowtie = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    zones = ZoneSet([bowtie], SIZE_WH)
    assert zones.contains_px(np.array([[100.0, 20.0], [20.0, 50.0]])).tolist() == [False, True]


@pytest.mark.parametrize(
    ("box_px", "expected"),
    [
        ((10, 20, 50, 120), (10, 20, 50, 60)),  # tall box: its top 40x40
        ((10, 20, 90, 50), (10, 20, 90, 50)),  # wide box: the whole box
        ((180, 90, 220, 150), (180, 90, 200, 100)),  # clipped to the 200x100 frame
        ((-5.4, 0.6, 20.2, 80), (0, 1, 20, 26)),
    ],
)
def test_top_square_px(box_px, expected) -> None:
    assert top_square_px(box_px, SIZE_WH) == expected


@pytest.mark.parametrize(
    ("zones", "exception"),
    [
        ([SQUARE], does_not_raise()),
        (None, does_not_raise()),
        ([], does_not_raise()),
        ("not a list", pytest.raises(ValueError, match="list of polygons")),
        ([[[0, 0], [1, 1]]], pytest.raises(ValueError, match=r"zones\[0\].*at least 3 points")),
        ([SQUARE, [[0, 0], [1, 0], [1, 1.5]]], pytest.raises(ValueError, match=r"zones\[1\].*between 0 and 1")),
        ([[[0, 0], [1, 0], ["a", 1]]], pytest.raises(ValueError, match=r"zones\[0\]")),
        ([[[0, 0, 0], [1, 0, 0], [1, 1, 0]]], pytest.raises(ValueError, match=r"zones\[0\]")),
    ],
)
def test_validate_zones(zones, exception) -> None:
    with exception:
        assert isinstance(validate_zones(zones), list)
