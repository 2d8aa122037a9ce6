"""Compare our tracker with library trackers on the scripted scenes and on vtest.avi (not a test).

Run it in a scratch virtual environment that has the project's requirements and
the candidate, since the candidates conflict with the project's pins (see
docs/processors.md)::

    python3 -m venv /tmp/venv-trk
    /tmp/venv-trk/bin/pip install -r requirements.txt trackers==2.6.1
    PYTHONPATH=. /tmp/venv-trk/bin/python tests/processors/compare_trackers.py home bytetrack bytetrack_diou

For norfair 2.3.0, install it with ``--no-deps`` plus ``filterpy==1.4.5 scipy rich``
(its numpy<2 pin is the conflict; it runs on numpy 2.4). ``--vtest DETECTIONS.json``
adds traffic counts on vtest.avi from detections saved by ``--save-vtest``.

Each tracker feeds the real TrafficCounter; for each scene, fps and seed it reports
whether the count is wrong, and identity errors against the script: fragments (a
person split over several ids) and merges or swaps (an id shared by several people).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import warnings
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

import numpy as np

from server.processors import Detections, Frame, ProcessorSettings, TrafficCounter
from server.processors.tracking import Tracker
from tests.processors.scenes import SCENES, Scene

CONDITIONS = {"clean": (0.0, 0.0), "jitter.05+drop10%": (0.05, 0.1), "jitter.08+drop20%": (0.08, 0.2)}
VTEST_BAND = [[[0.40, 0.0], [0.50, 0.0], [0.50, 1.0], [0.40, 1.0]]]


class Recorder:
    """Passes boxes to a tracker and keeps the ids it gave, for the identity metrics."""

    def __init__(self, inner) -> None:
        self.inner, self.log = inner, []

    def update(self, boxes: np.ndarray, ts: datetime) -> list[int]:
        ids = self.inner.update(boxes, ts)
        self.log.append(list(ids))
        return ids


def degrade(scene: Scene, fps: int, seed: int, drop: float) -> tuple[list[Frame], list[list[int]]]:
    """The scene's frames with a fraction ``drop`` of detections missed at random."""
    rng = np.random.default_rng(1000 + seed)
    frames, truth = [], []
    for frame, who in zip(scene.frames(fps, seed), scene.truth(fps), strict=True):
        keep = rng.random(len(who)) >= drop
        frames.append(Frame(frame.image, frame.ts, frame.detections.select(keep)))
        truth.append([person for person, kept in zip(who, keep, strict=True) if kept])
    return frames, truth


def run_scene(make: Callable, scene: Scene, fps: int, seed: int, jitter: float, drop: float) -> tuple[int, int, int]:
    scene = dataclasses.replace(scene, jitter=max(scene.jitter, jitter))
    frames, truth = degrade(scene, fps, seed, drop)
    recorder = Recorder(make(fps))
    settings = ProcessorSettings(id=1, camera_id=1, type="traffic", zones=scene.zones)
    counter = TrafficCounter(settings, tracker=recorder)
    for start in range(0, len(frames), 2 * fps):
        counter.process(frames[start : start + 2 * fps])
    ids_of, people_of = defaultdict(set), defaultdict(set)
    for who, ids in zip(truth, recorder.log, strict=True):
        for person, track_id in zip(who, ids, strict=True):
            if track_id >= 0:  # a library's tentative detection has no id yet
                ids_of[person].add(track_id)
                people_of[track_id].add(person)
    fragments = sum(len(v) - 1 for v in ids_of.values())
    merges = sum(len(v) - 1 for v in people_of.values())
    return abs(counter.total - scene.traffic), fragments, merges


def evaluate_scenes(name: str, make: Callable) -> None:
    for condition, (jitter, drop) in CONDITIONS.items():
        for fps in (1, 2, 5):
            wrong = error = fragments = merges = runs = 0
            for scene, seed in itertools.product(SCENES, range(4)):
                e, f, m = run_scene(make, scene, fps, seed, jitter, drop)
                wrong, error, fragments, merges, runs = wrong + (e > 0), error + e, fragments + f, merges + m, runs + 1
            print(f"{name:18s} {condition:18s} {fps}fps  wrong counts {wrong:2d}/{runs}  |error| {error:3d}  "
                  f"fragments {fragments:3d}  merges/swaps {merges:3d}", flush=True)


def evaluate_vtest(name: str, make: Callable, path: str) -> None:
    """Traffic into the band x 0.40..0.50 from saved 5 fps detections, sub-sampled to 2.5 and 1 fps."""
    with open(path) as source:
        saved = json.load(source)
    image = np.zeros((576, 768, 3), np.uint8)
    results = []
    for step, fps in ((1, 5), (2, 2.5), (5, 1)):
        settings = ProcessorSettings(id=1, camera_id=1, type="traffic", zones=VTEST_BAND)
        counter = TrafficCounter(settings, tracker=make(fps))
        for ts, rows in saved[::step]:
            counter.process([Frame(image, datetime.fromisoformat(ts), Detections.from_rows(rows))])
        results.append(f"{fps}fps={counter.total}")
    print(f"{name:18s} vtest.avi band     " + "  ".join(results), flush=True)


def save_vtest(video: str, detector_url: str, path: str) -> None:
    from detector_client import ObjectDetectorClient
    from server.processors.replay import DEFAULT_START, sample_frames

    client = ObjectDetectorClient(detector_url, read_timeout_s=60)
    saved = []
    for ts, image in sample_frames(video, 5, DEFAULT_START, None):
        found = client.detect([image], (1, 1))[0]
        saved.append((ts.isoformat(), [[*d.box, d.score, d.class_id] for d in found]))
    with open(path, "w") as out:
        json.dump(saved, out)


# --- the candidates ------------------------------------------------------------------------------


def home(fps: float) -> Tracker:
    return Tracker()


def _supervision_adapter(tracker):
    """Roboflow trackers take and return ``sv.Detections``; map their ids back to our boxes."""
    import supervision as sv

    fresh = itertools.count(10**6)

    class Adapter:
        def update(self, boxes: np.ndarray, ts: datetime) -> list[int]:
            n = len(boxes)
            detections = sv.Detections(xyxy=np.asarray(boxes, float).reshape(-1, 4), confidence=np.full(n, 0.9),
                                       class_id=np.zeros(n, int))
            out = tracker.update(detections, timestamp=ts.timestamp())
            ids: list[int | None] = [None] * n
            for box, track_id in zip(out.xyxy, out.tracker_id, strict=True):
                index = int(np.argmin(np.abs(np.asarray(boxes) - box).sum(axis=1)))
                ids[index] = int(track_id) + 1 if track_id >= 0 else -next(fresh)
            return [i if i is not None else -next(fresh) for i in ids]

    return Adapter()


def _library_args(fps: float) -> dict:
    return {"lost_track_buffer": 75, "frame_rate": fps, "minimum_consecutive_frames": 1}


def sort(fps: float):
    from trackers import SORTTracker

    return _supervision_adapter(SORTTracker(**_library_args(fps), minimum_iou_threshold=0.01))


def bytetrack(fps: float):
    from trackers import ByteTrackTracker

    return _supervision_adapter(ByteTrackTracker(**_library_args(fps), track_activation_threshold=0.5))


def bytetrack_diou(fps: float):
    """ByteTrack with distance-IoU shifted into 0..1, so boxes that do not overlap can still match."""
    from trackers import ByteTrackTracker, DIoU

    class ShiftedDIoU(DIoU):
        def _compute(self, a, b):
            return (super()._compute(a, b) + 1) / 2

    return _supervision_adapter(ByteTrackTracker(**_library_args(fps), track_activation_threshold=0.5,
                                                 minimum_iou_threshold=0.35, iou=ShiftedDIoU()))


def ocsort(fps: float):
    from trackers import OCSORTTracker

    return _supervision_adapter(OCSORTTracker(**_library_args(fps), minimum_iou_threshold=0.01))


def cbiou(fps: float):
    from trackers import CBIoUTracker

    return _supervision_adapter(CBIoUTracker(**_library_args(fps), track_activation_threshold=0.5))


def _norfair(fps: float, threshold: float):
    """norfair with our distance: centres apart, in box sizes (its Kalman filter predicts)."""
    import norfair

    fresh = itertools.count(10**6)

    def distance(detection, tracked) -> float:
        found, estimate = detection.points, tracked.estimate
        scale = max(found[1] - found[0]) / 2 + max(estimate[1] - estimate[0]) / 2
        return float(np.linalg.norm(found.mean(axis=0) - estimate.mean(axis=0)) / max(scale, 1e-6))

    tracker = norfair.Tracker(distance_function=distance, distance_threshold=threshold, initialization_delay=0,
                              hit_counter_max=max(3, int(2.5 * fps)))

    class Adapter:
        def update(self, boxes: np.ndarray, ts: datetime) -> list[int]:
            detections = [norfair.Detection(points=np.asarray(b, float).reshape(2, 2), data=i)
                          for i, b in enumerate(boxes)]
            ids: list[int | None] = [None] * len(boxes)
            for tracked in tracker.update(detections):
                last = tracked.last_detection
                if last is not None and any(last is d for d in detections):
                    ids[last.data] = tracked.id
            return [i if i is not None else -next(fresh) for i in ids]

    return Adapter()


def norfair_15(fps: float):
    return _norfair(fps, 1.5)


def norfair_2(fps: float):
    return _norfair(fps, 2.0)


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trackers", nargs="*", default=["home"])
    parser.add_argument("--vtest", help="saved vtest.avi detections (JSON) to count traffic on")
    parser.add_argument("--save-vtest", nargs=2, metavar=("VIDEO", "DETECTOR_URL"))
    args = parser.parse_args()
    if args.save_vtest:
        save_vtest(*args.save_vtest, args.vtest)
        return
    for name in args.trackers:
        if args.vtest:
            evaluate_vtest(name, globals()[name], args.vtest)
        else:
            evaluate_scenes(name, globals()[name])


if __name__ == "__main__":
    main()
