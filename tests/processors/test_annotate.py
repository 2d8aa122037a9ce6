"""Preview drawing: what a person sees of a processor on each frame."""

from __future__ import annotations

import numpy as np

from server.processors import Overlay, ProcessorSettings
from server.processors.annotate import FACE_BGR, INSIDE_BGR, OUTSIDE_BGR, draw

GREY = 100
RIGHT_HALF = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]


def grey_frame() -> np.ndarray:
    return np.full((100, 200, 3), GREY, dtype=np.uint8)


def settings(zones=(RIGHT_HALF,)) -> ProcessorSettings:
    return ProcessorSettings(id=1, camera_id=1, type="traffic", zones=zones)


def test_nothing_to_draw_leaves_the_frame_as_it_was() -> None:
    frame = grey_frame()
    assert np.array_equal(draw(frame, settings(zones=()), Overlay()), frame)


def test_draw_returns_a_copy() -> None:
    frame = grey_frame()
    out = draw(frame, settings(), Overlay(label="entered: 3"))
    assert out.shape == frame.shape and out.dtype == frame.dtype
    assert (frame == GREY).all(), "the watcher's frame is not drawn on"


def test_zones_are_tinted_and_the_rest_is_not() -> None:
    out = draw(grey_frame(), settings(), Overlay())
    assert not np.array_equal(out[50, 150], [GREY] * 3), "inside the zone"
    assert np.array_equal(out[50, 50], [GREY] * 3), "outside the zone"


def test_boxes_take_the_colour_of_where_they_are() -> None:
    overlay = Overlay(
        boxes_rel=np.array([[0.6, 0.2, 0.8, 0.8], [0.1, 0.2, 0.3, 0.8]]),
        inside=np.array([True, False]),
        faces_rel=np.array([[0.62, 0.25, 0.7, 0.4]]),
    )
    out = draw(grey_frame(), settings(zones=()), overlay)
    assert out[50, 120].tolist() == list(INSIDE_BGR), "left side of the box inside"
    assert out[50, 20].tolist() == list(OUTSIDE_BGR), "left side of the box outside"
    assert out[32, 124].tolist() == list(FACE_BGR)


def test_track_ids_tails_and_count_are_drawn() -> None:
    overlay = Overlay(
        boxes_rel=np.array([[0.6, 0.4, 0.8, 0.9]]),
        inside=np.array([True]),
        track_ids=[7],
        tails_rel={7: [(0.1, 0.95), (0.4, 0.95), (0.7, 0.9)]},
        label="entered: 12",
    )
    out = draw(grey_frame(), settings(zones=()), overlay)
    blue, green, red = out[95, 50].tolist()
    assert green > 180 and blue < 60 and red < 60, "on the (anti-aliased) tail"
    assert (out[0:5, 0:40] == 0).all(), "dark background of the count"
    assert (out[0:25, 0:120] == 255).any(), "white text of the count"
    assert (out[25:38, 120:135] != GREY).any(), "the track id above its box"
