"""Every processor's count on the scripted scenes, at 1 and 5 frames a second."""

from __future__ import annotations

from collections import defaultdict

import pytest

from server.processors import ObjectsCounter, ProcessorSettings, TrafficCounter
from server.processors.geometry import boxes_px
from server.processors.tracking import Tracker
from tests.processors.scenes import FRAME_WH, SCENES, Scene

FPS = [1, 5]
CASES = [pytest.param(scene, fps, id=f"{scene.name}-{fps}fps") for scene in SCENES for fps in FPS]


def settings_for(scene: Scene, kind: str) -> ProcessorSettings:
    return ProcessorSettings(id=1, camera_id=1, type=kind, zones=scene.zones, threshold=0.5)


def split_in_segments(frames: list, size: int) -> list[list]:
    """Batches of frames as the watcher hands them over, one per segment."""
    return [frames[i : i + size] for i in range(0, len(frames), size)]


@pytest.mark.parametrize(("scene", "fps"), CASES)
def test_traffic_counts_every_entry(scene: Scene, fps: int) -> None:
    counter = TrafficCounter(settings_for(scene, "traffic"))
    events = []
    for segment in split_in_segments(scene.frames(fps), 2 * fps):
        events += counter.process(segment)
    assert sum(value for _, value in events) == scene.traffic
    assert counter.total == scene.traffic


@pytest.mark.parametrize(("scene", "fps"), [c for c in CASES if c.values[0].objects is not None])
def test_objects_events_follow_the_count(scene: Scene, fps: int) -> None:
    counter = ObjectsCounter(settings_for(scene, "object"))
    events = []
    for segment in split_in_segments(scene.frames(fps), 4 * fps):
        events += counter.process(segment)
    expected = scene.objects_5fps if fps == 5 and scene.objects_5fps else scene.objects
    assert tuple(value for _, value in events) == expected


@pytest.mark.parametrize(("scene", "fps"), CASES)
def test_tracker_keeps_one_id_per_person(scene: Scene, fps: int) -> None:
    """No person split into two tracks, no track shared by two people."""
    tracker = Tracker()
    ids_of_person: dict[int, set[int]] = defaultdict(set)
    people_of_id: dict[int, set[int]] = defaultdict(set)
    for frame, truth in zip(scene.frames(fps), scene.truth(fps), strict=True):
        ids = tracker.update(boxes_px(frame.detections.boxes_rel, FRAME_WH), frame.ts)
        for person, track_id in zip(truth, ids, strict=True):
            ids_of_person[person].add(track_id)
            people_of_id[track_id].add(person)
    assert {p: len(ids) for p, ids in ids_of_person.items()} == {p: 1 for p in ids_of_person}
    assert all(len(people) == 1 for people in people_of_id.values())
