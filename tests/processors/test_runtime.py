"""Settings snapshots, the registry, frames, and the rules of each counter beyond the scenes."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from detector_client import Detection
from server.models import ObjectsCounter as ObjectsCounterRow
from server.models import TrafficCounter as TrafficCounterRow
from server.models import processor_types
from server.processors import (
    Detections,
    Frame,
    ObjectsCounter,
    ProcessorSettings,
    TrafficCounter,
    create_runtime,
)
from tests.processors.scenes import BAND, SCENES, T0, Scene, walk

BLANK = np.zeros((48, 64, 3), dtype=np.uint8)


def frame_at(seconds: float, *rows: list[float]) -> Frame:
    return Frame(BLANK, T0 + timedelta(seconds=seconds), Detections.from_rows(rows))


def settings(kind: str = "traffic", **changes) -> ProcessorSettings:
    return ProcessorSettings(**{"id": 7, "camera_id": 3, "type": kind, "zones": (BAND,), **changes})


# --- settings and registry -------------------------------------------------------------------


def test_settings_from_model_copies_the_configuration() -> None:
    row = TrafficCounterRow(id=7, camera_id=3, zones=[BAND], threshold=0.4, anchor="center", classes=[0, 2],
                            enabled=True, output_hls=True)
    snapshot = ProcessorSettings.from_model(row)
    assert snapshot == ProcessorSettings(id=7, camera_id=3, type="traffic", zones=(tuple(map(tuple, BAND)),),
                                         threshold=0.4, anchor="center", classes=(0, 2), enabled=True,
                                         output_hls=True)
    row.zones.append([[0, 0], [1, 0], [1, 1]])
    assert len(snapshot.zones) == 1, "a snapshot must not follow later edits of the row"


def test_settings_from_an_unsaved_row_take_the_documented_defaults() -> None:
    snapshot = ProcessorSettings.from_model(ObjectsCounterRow(id=1, camera_id=1))
    assert (snapshot.zones, snapshot.threshold, snapshot.anchor, snapshot.classes) == ((), 0.5, "bottom_center", (0,))


@pytest.mark.parametrize(
    ("changes", "exception"),
    [
        ({}, does_not_raise()),
        ({"anchor": "top"}, pytest.raises(ValueError, match="anchor")),
        ({"threshold": 1.5}, pytest.raises(ValueError, match="threshold")),
        ({"zones": ([[0, 0], [1, 1]],)}, pytest.raises(ValueError, match=r"zones\[0\]")),
    ],
)
def test_settings_refuse_what_they_cannot_use(changes, exception) -> None:
    with exception:
        settings(**changes)


def test_every_model_identity_has_a_runtime() -> None:
    for identity in processor_types():
        runtime = create_runtime(settings(identity))
        assert runtime.type_key == identity


def test_an_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: "):
        create_runtime(settings("line_crossing"))


def test_update_settings_refuses_another_processors_settings() -> None:
    runtime = create_runtime(settings("object"))
    with pytest.raises(ValueError, match="processor 8"):
        runtime.update_settings(settings("object", id=8))


# --- frames ----------------------------------------------------------------------------------


def test_detections_from_the_detector_client() -> None:
    found = [Detection(box=(0.1, 0.2, 0.3, 0.4), score=0.9, class_id=0),
             Detection(box=(0.5, 0.5, 0.6, 0.9), score=0.3, class_id=2)]
    detections = Detections.from_objects(found)
    assert detections.boxes_rel.tolist() == [[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.6, 0.9]]
    assert detections.class_ids.tolist() == [0, 2]
    assert len(detections.filtered(0.5, [0, 2])) == 1
    assert len(detections.filtered(0.0, [2])) == 1
    assert len(detections.filtered(0.0, [])) == 2


def test_detections_say_what_they_expected() -> None:
    with pytest.raises(ValueError, match="got 2, 1 and 1"):
        Detections(np.zeros((2, 4)), np.zeros(1), np.zeros(1))


def test_frame_time_is_stored_as_naive_utc() -> None:
    paris = timezone(timedelta(hours=2))
    frame = Frame(BLANK, datetime(2024, 5, 6, 14, 0, tzinfo=paris))
    assert frame.ts == datetime(2024, 5, 6, 12, 0)
    assert Frame(BLANK, datetime(2024, 5, 6, 12, 0, tzinfo=UTC)).ts == frame.ts


# --- ObjectsCounter ------------------------------------------------------------------------


def test_objects_events_carry_the_frame_time() -> None:
    scene = next(s for s in SCENES if s.name == "walk_through")
    events = ObjectsCounter(settings("object")).process(scene.frames(1))
    naive_t0 = T0.replace(tzinfo=None)
    assert events == [(naive_t0, 0), (naive_t0 + timedelta(seconds=4), 1), (naive_t0 + timedelta(seconds=6), 0)]


def test_objects_keep_their_last_count_across_batches() -> None:
    counter = ObjectsCounter(settings("object"))
    person = [0.45, 0.5, 0.5, 0.9, 0.9, 0]
    assert counter.process([frame_at(0, person)]) == [(frame_at(0).ts, 1)]
    assert counter.process([frame_at(1, person), frame_at(2, person)]) == []


@pytest.mark.parametrize(
    ("row", "change", "count"),
    [
        ([0.45, 0.5, 0.5, 0.9, 0.4, 0], {}, 0),  # below the threshold
        ([0.45, 0.5, 0.5, 0.9, 0.4, 0], {"threshold": 0.4}, 1),  # at the threshold counts
        ([0.45, 0.5, 0.5, 0.9, 0.9, 2], {}, 0),  # a car, and only people are counted
        ([0.45, 0.5, 0.5, 0.9, 0.9, 2], {"classes": (0, 2)}, 1),
        # Feet in the band, centre out of it (the box leans out of the band's right edge).
        ([0.55, 0.1, 0.75, 0.9, 0.9, 0], {}, 0),
        ([0.45, 0.1, 0.85, 0.9, 0.9, 0], {}, 0),
        ([0.35, 0.1, 0.65, 0.9, 0.9, 0], {"anchor": "center"}, 1),
        ([0.30, 0.1, 0.40, 0.9, 0.9, 0], {"zones": ()}, 1),  # no zones: the whole frame
    ],
)
def test_objects_honour_threshold_classes_anchor_and_zones(row, change, count) -> None:
    events = ObjectsCounter(settings("object", **change)).process([frame_at(0, row)])
    assert events == [(frame_at(0).ts, count)]


def test_a_disabled_processor_reports_nothing() -> None:
    counter = ObjectsCounter(settings("object", enabled=False))
    assert counter.process([frame_at(0, [0.45, 0.5, 0.5, 0.9, 0.9, 0])]) == []


# --- TrafficCounter ------------------------------------------------------------------------


def test_simultaneous_entries_make_one_event_with_their_number() -> None:
    scene = next(s for s in SCENES if s.name == "crossing_before_zone")
    events = TrafficCounter(settings()).process(scene.frames(1))
    assert events == [(T0.replace(tzinfo=None) + timedelta(seconds=7), 2)]


def test_standing_on_the_zone_edge_with_jitter_is_one_entry() -> None:
    """Feet jitter across the band's left edge for 30 s: one entry, not one per crossing."""
    scene = Scene("edge", (walk((0, 0.2, 0.8), (4, 0.4, 0.8), (34, 0.4, 0.8)),), jitter=0.05)
    for fps in (1, 5):
        counter = TrafficCounter(settings())
        counter.process(scene.frames(fps, seed=3))
        assert counter.total == 1


def test_without_zones_each_track_counts_once_when_confirmed() -> None:
    scene = next(s for s in SCENES if s.name == "crowd_jitter")
    counter = TrafficCounter(settings(zones=()))
    counter.process(scene.frames(1))
    assert counter.total == 4


def test_a_single_false_detection_is_no_visitor_of_the_whole_frame() -> None:
    counter = TrafficCounter(settings(zones=()))
    assert counter.process([frame_at(0, [0.1, 0.1, 0.2, 0.4, 0.9, 0]), frame_at(1)]) == []


def test_low_scores_and_other_classes_are_not_tracked() -> None:
    scene = next(s for s in SCENES if s.name == "walk_through")
    weak = Scene("weak", tuple(walk(*w.path, score=0.3) for w in scene.walkers))
    cars = Scene("cars", tuple(walk(*w.path, class_id=2) for w in scene.walkers))
    assert TrafficCounter(settings()).process(weak.frames(1)) == []
    assert TrafficCounter(settings()).process(cars.frames(1)) == []
    assert TrafficCounter(settings(classes=(2,))).process(cars.frames(1)) != []


def test_new_zones_apply_between_segments_and_tracks_survive() -> None:
    """Move the band to the right half-way: the walker, tracked before the change, enters it."""
    scene = next(s for s in SCENES if s.name == "walk_through")
    frames = scene.frames(1)
    counter = TrafficCounter(settings(zones=([[0.0, 0.0], [0.02, 0.0], [0.02, 0.02]],)))
    assert counter.process(frames[:5]) == []
    ids_before = {track.id for track in counter.tracker.tracks}
    counter.update_settings(settings(zones=([[0.7, 0.0], [0.9, 0.0], [0.9, 1.0], [0.7, 1.0]],)))
    assert [value for _, value in counter.process(frames[5:])] == [1]
    assert ids_before <= {track.id for track in counter.tracker.tracks}


def test_overlay_describes_the_last_frame() -> None:
    scene = next(s for s in SCENES if s.name == "side_by_side")
    counter = TrafficCounter(settings())
    counter.process(scene.frames(1)[:6])
    overlay = counter.last_overlay
    assert len(overlay.boxes_rel) == 2 and overlay.inside.tolist() == [True, True]
    assert sorted(overlay.track_ids) == [1, 2]
    assert all(len(overlay.tails_rel[tid]) == 6 for tid in overlay.track_ids)
    assert (overlay.count, overlay.label) == (2, "entered: 2")
