"""``python -m server.processors.replay VIDEO``: run processors on a video file, without Celery.

Samples the video at ``--fps``, sends the frames to the object detector (a running
one with ``--detector-url``, else a ``python -m detector_service --backend opencv``
child on a free port), feeds them to the processors one segment at a time as a
watcher would, and writes every event and the totals to stdout. With
``--save-frames DIR`` it also writes each processor's annotated frames as PNG, to
check the counts by eye. Frame time stamps start at ``--start`` (default: the
video's own start at 2000-01-01 UTC, so two runs print the same lines).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import requests

from detector_client import FaceDetectorClient, ObjectDetectorClient
from server.processors.annotate import draw
from server.processors.base import Event, ProcessorContext, ProcessorRuntime, ProcessorSettings, create_runtime
from server.processors.frames import Detections, Frame
from server.processors.geometry import ANCHORS

log = logging.getLogger(__name__)

DEFAULT_START = datetime(2000, 1, 1, tzinfo=UTC)
SERVICE_START_TIMEOUT_S = 60.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m server.processors.replay", description=__doc__.split("\n")[0])
    parser.add_argument("video", type=Path, help="video file (anything OpenCV reads)")
    parser.add_argument("--zones", type=Path, help="JSON file: a list of polygons of [x, y] in 0..1 (default: none)")
    parser.add_argument("--fps", type=float, default=1.0, help="frames sampled per second (default 1)")
    parser.add_argument("--type", default="traffic,object", help="processor types, comma-separated")
    parser.add_argument("--detector-url", help="object detector URL (default: start detector_service --backend opencv)")
    parser.add_argument("--face-url", help="face detector URL (default: beside the object detector)")
    parser.add_argument("--threshold", type=float, default=0.5, help="minimum detection score (default 0.5)")
    parser.add_argument("--anchor", choices=ANCHORS, default=ANCHORS[0], help="point of a box tested against zones")
    parser.add_argument("--classes", default="0", help="COCO class ids, comma-separated (default 0, person)")
    parser.add_argument("--grid", default="1x1", help="mosaic ROWSxCOLS sent to the detector (default 1x1)")
    parser.add_argument("--segment-s", type=float, default=2.0, help="seconds of video per batch (default 2)")
    parser.add_argument("--max-s", type=float, help="stop after this many seconds of video")
    parser.add_argument("--start", type=datetime.fromisoformat, help="UTC time of the first frame (ISO 8601)")
    parser.add_argument("--save-frames", type=Path, help="folder for annotated PNG frames, one subfolder per type")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def load_zones(path: Path | None) -> list:
    """Zones from a JSON file holding a list of polygons, or ``{"zones": [...]}``."""
    if path is None:
        return []
    data = json.loads(path.read_text())
    return data["zones"] if isinstance(data, dict) else data


def sample_frames(
    video: Path, fps: float, start: datetime, max_s: float | None
) -> Iterator[tuple[datetime, np.ndarray]]:
    """``(ts, BGR image)`` at about ``fps`` a second; skipped frames are grabbed, not decoded to BGR."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise SystemExit(f"cannot open video {video}")
    video_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(video_fps / fps, 1.0)
    index, next_sample = 0, 0.0
    try:
        while max_s is None or index < max_s * video_fps:
            if index + 0.5 >= next_sample:
                ok, image = capture.read()
                if not ok:
                    break
                yield start + timedelta(seconds=index / video_fps), image
                next_sample += step
            elif not capture.grab():
                break
            index += 1
    finally:
        capture.release()


def batched(items: Iterator, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def detector_service() -> Iterator[str]:
    """A ``detector_service --backend opencv`` child on a free loopback port; yields its base URL."""
    port = _free_port()
    command = [sys.executable, "-m", "detector_service", "--port", str(port), "--backend", "opencv"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"detector service did not start: {' '.join(command)}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{base_url}/health", timeout=1).ok:
                    break
            time.sleep(0.2)
        log.info("started detector service at %s", base_url)
        yield base_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Replay:
    """The processors of one replay and what they produced."""

    runtimes: list[ProcessorRuntime]
    save_frames: Path | None = None
    events: dict[str, list[Event]] = field(default_factory=dict)
    frames: int = 0
    detections: int = 0
    faces: int = 0

    def feed(self, frames: list[Frame]) -> None:
        """One segment: every processor sees all its frames, as under a watcher."""
        self.frames += len(frames)
        self.detections += sum(len(frame.detections) for frame in frames)
        for runtime in self.runtimes:
            if self.save_frames is None:
                new = runtime.process(frames)
            else:
                new = []
                for frame in frames:
                    new += runtime.process([frame])
                    self._save(runtime, frame)
            self.events.setdefault(runtime.type_key, []).extend(new)
            for ts, value in new:
                sys.stdout.write(f"{ts.isoformat(sep=' ', timespec='milliseconds')}  {runtime.type_key:8s} {value}\n")

    def count_face(self, message: dict) -> None:
        self.faces += len(message["faces"])

    def _save(self, runtime: ProcessorRuntime, frame: Frame) -> None:
        assert self.save_frames is not None
        folder = self.save_frames / runtime.type_key
        folder.mkdir(parents=True, exist_ok=True)
        name = frame.ts.strftime("%H%M%S_%f")[:-3] + ".png"
        cv2.imwrite(str(folder / name), draw(frame.image, runtime.settings, runtime.last_overlay))

    def totals(self) -> str:
        parts = [f"frames {self.frames}", f"detections {self.detections}"]
        for type_key, events in self.events.items():
            if type_key == "traffic":
                parts.append(f"traffic {sum(v for _, v in events)} entries in {len(events)} events")
            elif type_key == "object":
                values = [v for _, v in events]
                parts.append(f"object {len(events)} events, max {max(values, default=0)}, "
                             f"last {values[-1] if values else 0}")
        if any(r.type_key == "face" for r in self.runtimes):
            parts.append(f"faces {self.faces}")
        return "totals: " + "; ".join(parts) + "\n"


def run(args: argparse.Namespace, base_url: str | None) -> Replay:
    """Replay the video through the processors of ``args.type`` and the detector at ``base_url``."""
    detect_url = args.detector_url or f"{base_url}/detect"
    face_url = args.face_url or detect_url.rsplit("/", 1)[0] + "/faces"
    rows, cols = (int(v) for v in args.grid.lower().split("x"))
    objects = ObjectDetectorClient(detect_url, read_timeout_s=60)
    replay = Replay([], args.save_frames)
    context = ProcessorContext(camera_url=str(args.video), face_detector=FaceDetectorClient(face_url),
                               publish_faces=replay.count_face)
    zones = load_zones(args.zones)
    classes = tuple(int(c) for c in args.classes.split(",") if c.strip())
    for number, kind in enumerate(args.type.split(","), start=1):
        settings = ProcessorSettings(id=number, camera_id=1, type=kind.strip(), zones=zones,
                                     threshold=args.threshold, anchor=args.anchor, classes=classes)
        replay.runtimes.append(create_runtime(settings, context))
    samples = sample_frames(args.video, args.fps, args.start or DEFAULT_START, args.max_s)
    for segment in batched(samples, max(1, round(args.segment_s * args.fps))):
        frames = []
        for tiles in batched(iter(segment), rows * cols):
            found = objects.detect([image for _, image in tiles], (rows, cols))
            for (ts, image), detections in zip(tiles, found, strict=True):
                frames.append(Frame(image, ts, Detections.from_objects(detections)))
        replay.feed(frames)
    return replay


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        base_url = None if args.detector_url else stack.enter_context(detector_service())
        replay = run(args, base_url)
    sys.stdout.write(replay.totals())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
