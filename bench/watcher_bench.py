"""Watcher cost per camera-minute, and how many real-time cameras one node watches.

Test material (made once, in a temporary folder): the sample video looped to
``--video-seconds`` (60), scaled to 1280x720, 25 fps, libx264 with a one-second
GOP (``-g 25 -keyint_min 25 -sc_threshold 0``), cut into 2 s HLS segments.

Part A, CPU seconds per camera-minute of video, each figure from a fresh child
process so that measurements do not mix:
  * naive: ``cv2.VideoCapture`` on each segment, ``read()`` every frame (decode and
    BGR conversion), keep every n-th;
  * sampler: ``server.watcher.sampling.sample_segment`` with one ``Sampler`` carried
    across segments, as a watcher does (after its first segment it knows the key-frame
    spacing and, where key frames suffice, decodes only them);
  * watcher: the real ``Watcher`` following one live loopback camera that serves the
    same segment files (download, sampling, mosaic JPEG, HTTP to an instant detector,
    processors, SQLite, Redis).
  Threads are left as the product has them: PyAV ``thread_type = "NONE"`` (set in
  sampling.py), OpenCV's FFmpeg backend with its default decoder threads. What is
  compared is CPU time (user + system of all threads), not wall time.

Part B, real-time cameras per node: a loopback server (its own process) gives each
camera k a sliding live playlist over the same files (2 s a segment, media
sequence and program date-time advancing with the wall clock, URIs unique per
camera and sequence number), and a detector (another process) answers at once
without decoding the JPEG. N watchers (one forked process each, as Celery runs one pool process per
camera; one SQLite file in WAL mode, one Redis) follow N cameras for ``--seconds``
after a warm-up. A camera keeps up when its lag (heartbeat ``lag_s``) over the last
30 s is at most ``--lag-slack`` above that over the first 30 s and it processed
about one segment per 2 s. N grows until a camera falls behind.

Part P: cProfile (timer: process CPU time) of one watcher at watch_fps 1, grouped
by what the CPU goes to.

    .venv/bin/python bench/watcher_bench.py [--parts A B P] [--cameras 25 50 75 100 125]
        [--seconds 120] [--grid 1 2] [--video PATH]

Needs ffmpeg and redis-server. Takes about 15-20 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import logging
import multiprocessing
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "vtest.avi"
SEGMENT_S = 2.0
PLAYLIST_WINDOW = 6
TICK = os.sysconf("SC_CLK_TCK")


# --- test material -------------------------------------------------------------------
def make_segments(video: Path, folder: Path, seconds: int) -> list[Path]:
    """720p, 25 fps H.264 with a key frame every second, in 2 s MPEG-TS segments."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-stream_loop", "-1", "-i", str(video), "-t", str(seconds),
                    "-vf", "scale=1280:720", "-r", "25", "-c:v", "libx264", "-preset", "veryfast", "-g", "25",
                    "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-f", "hls", "-hls_time",
                    str(SEGMENT_S), "-hls_list_size", "0", "-hls_segment_filename", str(folder / "seg%03d.ts"),
                    str(folder / "all.m3u8")], check=True)
    durations = [float(line[8:].rstrip(",")) for line in (folder / "all.m3u8").read_text().splitlines()
                 if line.startswith("#EXTINF:")]
    if any(abs(d - SEGMENT_S) > 0.01 for d in durations):
        raise RuntimeError(f"segments are not all {SEGMENT_S} s long: {durations}")
    return sorted(folder.glob("seg*.ts"))


# --- part A: sampling alone, in spawned children ---------------------------------------
def naive_cpu(paths: list[str], fps: float, repeats: int) -> tuple[list[float], int]:
    """CPU seconds of each pass over all segments, and frames kept in one pass."""
    from bench.sampling_bench import opencv_read_all  # the naive method, as the sampling bench runs it

    def one(path: str) -> int:
        return opencv_read_all(Path(path), fps, None, None)

    one(paths[0])  # warm-up: codec and library initialisation
    spent, kept = [], 0
    for _ in range(repeats):
        before = time.process_time()
        kept = sum(one(path) for path in paths)
        spent.append(time.process_time() - before)
    return spent, kept


def sampler_cpu(paths: list[str], fps: float, repeats: int) -> tuple[list[float], int]:
    """As naive_cpu, with the watcher's sampler; segment times continue from one pass to the next."""
    from server.watcher.sampling import Sampler, sample_segment

    sampler = Sampler(fps)
    clock = datetime(2026, 11, 23, tzinfo=UTC)
    sample_segment(Path(paths[0]), clock, sampler)  # a watcher's first segment: learns the key-frame spacing
    spent, kept = [], 0
    for _ in range(repeats):
        before, kept = time.process_time(), 0
        for path in paths:
            clock += timedelta(seconds=SEGMENT_S)
            kept += len(sample_segment(Path(path), clock, sampler))
        spent.append(time.process_time() - before)
    return spent, kept


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


# --- loopback servers: live cameras and an instant detector ------------------------------
def phase_s(camera: int) -> float:
    """Cameras are not in step: each starts its segments at its own offset within 2 s."""
    return (camera * 0.6180339887) % 1.0 * SEGMENT_S


class LiveCameras(ThreadingHTTPServer):
    """``/c<k>/live.m3u8``: a live playlist of camera k; ``/c<k>/<seq>.ts``: its segment seq."""

    daemon_threads = True
    request_queue_size = 512

    def __init__(self, segments: list[bytes]) -> None:
        super().__init__(("127.0.0.1", 0), CameraHandler)
        self.segments = segments
        # Segment 0 of every camera began a full playlist window ago.
        self.epoch = time.time() - (PLAYLIST_WINDOW + 1) * SEGMENT_S

    def playlist(self, camera: int, now: float) -> str:
        origin = self.epoch + phase_s(camera)
        last = int((now - origin) // SEGMENT_S) - 1  # the last segment whose end has passed
        first = max(0, last - PLAYLIST_WINDOW + 1)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEGMENT_S:.0f}",
                 f"#EXT-X-MEDIA-SEQUENCE:{first}"]
        for seq in range(first, last + 1):
            shot = datetime.fromtimestamp(origin + seq * SEGMENT_S, UTC).isoformat(timespec="milliseconds")
            lines += [f"#EXT-X-PROGRAM-DATE-TIME:{shot}", f"#EXTINF:{SEGMENT_S:.3f},", f"{seq}.ts"]
        return "\n".join(lines) + "\n"

    def segment(self, camera: int, seq: int) -> bytes:
        return self.segments[(seq + 7 * camera) % len(self.segments)]


class CameraHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real camera servers allow
    server: LiveCameras

    def do_GET(self) -> None:
        try:
            camera_part, name = self.path.strip("/").split("/")
            camera = int(camera_part[1:])
            if name == "live.m3u8":
                body, kind = self.server.playlist(camera, time.time()).encode(), "application/vnd.apple.mpegurl"
            else:
                body, kind = self.server.segment(camera, int(name.removesuffix(".ts"))), "video/mp2t"
        except ValueError:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


class InstantDetector(BaseHTTPRequestHandler):
    """Answers every mosaic at once, without decoding it: 3 to 6 people per tile walking left to right."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        rows, cols = (int(v) for v in self.headers.get("X-Grid", "1x1").split("x"))
        now = time.time()
        people = [((0.05 * now + 0.23 * i) % 0.9, 0.3, 0.9, 0) for i in range(3 + int(now // 10) % 4)]
        answer = [[(c + x) / cols, (r + y0) / rows, (c + x + 0.08) / cols, (r + y1) / rows, 0.9, k]
                  for r in range(rows) for c in range(cols) for x, y0, y1, k in people]
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        pass


def serve(server: ThreadingHTTPServer) -> None:
    """Child process: one server until killed (cameras and detector each get a process, and so a GIL)."""
    server.serve_forever()


@dataclass
class Node:
    """What the watchers of a run share: servers, Redis, a folder."""

    tmp: Path
    cameras_url: str
    detector_url: str
    redis_url: str
    server_pids: list[int]  # the loopback servers' processes and redis-server


# --- /proc readings ----------------------------------------------------------------------
def cpu_s(pid: int) -> float:
    """User + system seconds of a process, all its threads."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICK


def memory_mb(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MB."""
    found = {"Pss:": 0.0, "Rss:": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, *rest = line.split()
            if key in found:
                found[key] = int(rest[0]) / 1024
    return found["Pss:"], found["Rss:"]


def child_pids(name: str) -> list[int]:
    """Processes named ``name`` whose parent is this process."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if text[text.index("(") + 1 : text.rindex(")")] == name and int(text.rsplit(")", 1)[1].split()[1]) == \
                    os.getpid():
                pids.append(int(stat.parent.name))
    return pids


# --- one watcher process -----------------------------------------------------------------
def run_watcher(camera_id: int, node: Node, db: Path, seconds: float | None, profile: Path | None) -> None:
    """Child process (forked): the real Watcher of one camera until SIGTERM or ``seconds``."""
    import redis

    from detector_client import ObjectDetectorClient
    from detector_client.transport import lean_session
    from server.db import make_engine, make_sessionmaker
    from server.processors import ProcessorContext
    from server.watcher.watcher import Watcher, WatcherDeps

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deps = WatcherDeps(config={"WATCHER_LEASE_TTL_S": 30, "SEGMENTS_DIR": str(node.tmp / "segments")},
                       sessions=make_sessionmaker(make_engine(f"sqlite:///{db}")),
                       redis=redis.Redis.from_url(node.redis_url), detector=ObjectDetectorClient(node.detector_url),
                       context_factory=lambda _camera: ProcessorContext(), previews_factory=lambda: None,
                       http=lean_session())
    watcher = Watcher(camera_id, deps, stop)
    if seconds is not None:
        threading.Timer(seconds, stop.set).start()
    if profile is None:
        watcher.run()
        return
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(watcher.run)
    profiler.dump_stats(str(profile))


def add_cameras(db: Path, node: Node, count: int, fps: float, grid: int) -> list[int]:
    """A fresh database with ``count`` cameras, each with a traffic and an objects counter."""
    from server.db import make_engine, make_sessionmaker
    from server.migrate import upgrade
    from server.models import Camera, ObjectsCounter, TrafficCounter

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        cameras = []
        for k in range(count):
            camera = Camera(name=f"cam {k}", stream_url=f"{node.cameras_url}/c{k}/live.m3u8", watch_fps=fps,
                            watch_rows=grid, watch_cols=grid)
            camera.processors = [TrafficCounter(), ObjectsCounter()]
            cameras.append(camera)
        session.add_all(cameras)
        session.commit()
        ids = [camera.id for camera in cameras]
    engine.dispose()  # no connection may cross the fork
    return ids


@dataclass
class Run:
    """What N watchers did during the measured window."""

    cameras: int
    fps: float
    grid: int
    seconds: float
    keeping_up: int = 0
    lag_first_s: list[float] = field(default_factory=list)  # per camera, median over the first 30 s
    lag_last_s: list[float] = field(default_factory=list)  # per camera, median over the last 30 s
    segments: list[int] = field(default_factory=list)  # per camera, processed in the window
    watchers_cpu_s: float = 0.0
    servers_cpu_s: float = 0.0  # loopback cameras + detector + redis
    machine_cpu_s: float = 0.0  # the whole machine, other jobs included
    pss_mb: float = 0.0
    rss_mb: float = 0.0
    failed: list[str] = field(default_factory=list)


def watch_cameras(node: Node, count: int, fps: float, grid: int, seconds: float, warmup_s: float,
                  lag_slack_s: float) -> Run:
    """Fork ``count`` watchers, measure a window of ``seconds`` after ``warmup_s``, stop them."""
    import redis

    from server.metrics import METRICS_PREFIX
    from server.watcher.heartbeat import read_heartbeats

    rundir = Path(tempfile.mkdtemp(dir=node.tmp, prefix=f"run-{count}-"))
    db = rundir / "bench.db"
    ids = add_cameras(db, node, count, fps, grid)
    client = redis.Redis.from_url(node.redis_url)
    client.flushall()
    client.close()
    context = multiprocessing.get_context("fork")
    procs = []
    for camera_id in ids:
        proc = context.Process(target=run_watcher, args=(camera_id, node, db, None, None), daemon=True)
        proc.start()
        procs.append(proc)
        time.sleep(0.02)
    client = redis.Redis.from_url(node.redis_url)
    run = Run(count, fps, grid, seconds)
    lags: dict[int, list[tuple[float, float]]] = {camera_id: [] for camera_id in ids}
    began = time.monotonic()
    start_at, end_at = began + warmup_s, began + warmup_s + seconds

    def snapshot() -> tuple[float, float, float, list[int]]:
        pipe = client.pipeline(transaction=False)
        for camera_id in ids:
            pipe.hget(f"{METRICS_PREFIX}{camera_id}", "segments")
        done = [int(v or 0) for v in pipe.execute()]
        return (sum(cpu_s(p.pid) for p in procs), sum(cpu_s(pid) for pid in node.server_pids), machine_busy_s(),
                done)

    first = last = None
    while True:
        now = time.monotonic()
        if first is None and now >= start_at:
            first = snapshot()
        if now >= end_at:
            last = snapshot()
            memory = [memory_mb(p.pid) for p in procs]
            run.pss_mb, run.rss_mb = sum(m[0] for m in memory), sum(m[1] for m in memory)
            break
        if now >= start_at:
            for camera_id, beat in read_heartbeats(client, ids).items():
                if beat is not None and beat.lag_s is not None:
                    lags[camera_id].append((now - start_at, beat.lag_s))
        time.sleep(2.0)
    beats = read_heartbeats(client, ids)
    for proc in procs:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    client.close()
    assert first is not None and last is not None
    run.watchers_cpu_s = last[0] - first[0]
    run.servers_cpu_s = last[1] - first[1]
    run.machine_cpu_s = last[2] - first[2]
    window = min(30.0, seconds / 2)
    for index, camera_id in enumerate(ids):
        early = [lag for t, lag in lags[camera_id] if t <= window]
        late = [lag for t, lag in lags[camera_id] if t >= seconds - window]
        done = last[3][index] - first[3][index]
        run.segments.append(done)
        if not early or not late:
            run.failed.append(f"camera {camera_id}: no lag reported")
            continue
        run.lag_first_s.append(statistics.median(early))
        run.lag_last_s.append(statistics.median(late))
        beat = beats.get(camera_id)
        problems = []
        if run.lag_last_s[-1] > run.lag_first_s[-1] + lag_slack_s:
            problems.append(f"lag {run.lag_first_s[-1]:.1f} -> {run.lag_last_s[-1]:.1f} s")
        if done < seconds / SEGMENT_S - 2:
            problems.append(f"{done} segments in {seconds:.0f} s")
        if beat is None or beat.state != "streaming":
            problems.append(f"state {beat.state if beat else 'gone'}")
        if problems:
            run.failed.append(f"camera {camera_id}: {', '.join(problems)}")
        else:
            run.keeping_up += 1
    return run


@contextlib.contextmanager
def loopback_node(tmp: Path, segments: list[Path]) -> Iterator[Node]:
    """The camera/detector server process and a Redis, for as long as the context lasts."""
    from tests.support.servers import redis_server

    cameras = LiveCameras([path.read_bytes() for path in segments])
    detector = ThreadingHTTPServer(("127.0.0.1", 0), InstantDetector)
    detector.daemon_threads = True
    detector.request_queue_size = 512
    servers = [multiprocessing.get_context("fork").Process(target=serve, args=(server,), daemon=True)
               for server in (cameras, detector)]
    for proc in servers:
        proc.start()
    cameras.server_close()
    detector.server_close()
    with redis_server(tmp) as redis_url:
        yield Node(tmp, f"http://127.0.0.1:{cameras.server_address[1]}",
                   f"http://127.0.0.1:{detector.server_address[1]}/detect", redis_url,
                   [*(proc.pid for proc in servers), *child_pids("redis-server")])
    for proc in servers:
        proc.kill()
        proc.join()


# --- part P: where one watcher's CPU goes --------------------------------------------------
CATEGORIES = [  # (label, file suffix, function); cumulative CPU of each, none nested in another
    ("decode + sampling (PyAV)", "server/watcher/sampling.py", "sample_segment"),
    ("mosaic tiling", "detector_client/mosaic.py", "tile_frames"),
    ("JPEG encode (cv2.imencode)", "detector_client/client.py", "encode_jpeg"),
    ("detector HTTP (requests) + JSON", "detector_client/transport.py", "post_jpeg"),
    ("detector answer parsing", "detector_client/protocol.py", "parse_objects"),
    ("detections split", "detector_client/mosaic.py", "split_detections_rel"),
    ("processors (tracking, zones)", "server/watcher/pipeline.py", "_run"),
    ("playlist GET + m3u8 parsing", "server/watcher/hls.py", "_media_playlist"),
    ("segment download + write", "server/watcher/hls.py", "_download"),
    ("SQLite: reload camera and processors", "server/watcher/pipeline.py", "reload"),
    ("SQLite: store events (flush)", "server/watcher/pipeline.py", "flush"),
    ("Redis: metrics per segment", "server/metrics.py", "record"),
    ("Redis: lease renew / heartbeat", "server/watcher/watcher.py", "keep_alive"),
    ("Redis: stop/generation check", "server/watcher/watcher.py", "_asked_to_stop"),
]
DETAILS = [  # shown inside their category
    ("m3u8.loads (parse only)", "m3u8/__init__.py", "loads"),
    ("Detections.from_objects", "server/processors/frames.py", "from_objects"),
    ("store_events", "server/processors/store.py", "store_events"),
]


def profile_watcher(node: Node, fps: float, seconds: float) -> None:
    db = node.tmp / "profile.db"
    (camera_id,) = add_cameras(db, node, 1, fps, 1)
    out = node.tmp / "watcher.prof"
    proc = multiprocessing.get_context("fork").Process(target=run_watcher, args=(camera_id, node, db, seconds, out))
    proc.start()
    proc.join()
    stats = pstats.Stats(str(out))
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, name: str) -> tuple[float, int]:
        found = [(value[3], value[1]) for (path, _, func), value in table.items()
                 if path.endswith(suffix) and func == name]
        return (max(found) if found else (0.0, 0))

    total, _ = cumulative("server/watcher/watcher.py", "run")
    handled = cumulative("server/watcher/watcher.py", "_handle")[1] or 1
    print(f"\nProfile: one watcher, watch_fps {fps:g}, 1x1, {seconds:.0f} s, {handled} segments, "
          f"{total:.2f} CPU s under the profiler ({1000 * total / handled:.1f} ms a segment)\n")
    print("| where | CPU ms / segment | share |")
    print("| --- | --- | --- |")
    counted = 0.0
    for label, suffix, name in CATEGORIES:
        spent, _ = cumulative(suffix, name)
        counted += spent
        print(f"| {label} | {1000 * spent / handled:.1f} | {100 * spent / total:.0f}% |")
    print(f"| other (loop, logging, state, waits) | {1000 * (total - counted) / handled:.1f} | "
          f"{100 * (total - counted) / total:.0f}% |")
    for label, suffix, name in DETAILS:
        spent, _ = cumulative(suffix, name)
        print(f"| (of which) {label} | {1000 * spent / handled:.1f} | {100 * spent / total:.0f}% |")
    print("\nTop functions by own CPU time:")
    stats.sort_stats("tottime").print_stats(20)


# --- main ------------------------------------------------------------------------------
def part_a(segments: list[Path], node: Node | None, fps_values: list[float], repeats: int,
           watcher_seconds: float) -> None:
    paths = [str(path) for path in segments]
    minutes = len(paths) * SEGMENT_S / 60
    print(f"\nPart A: {len(paths)} segments ({len(paths) * SEGMENT_S:.0f} s of 720p25 video, GOP 1 s), "
          f"median of {repeats} passes\n")
    print("| watch_fps | method | frames kept / min | CPU s / camera-minute | naive / this |")
    print("| --- | --- | --- | --- | --- |")
    for fps in fps_values:
        naive, naive_kept = in_fresh_process(naive_cpu, paths, fps, repeats)
        ours, ours_kept = in_fresh_process(sampler_cpu, paths, fps, repeats)
        naive_min, ours_min = statistics.median(naive) / minutes, statistics.median(ours) / minutes
        print(f"| {fps:g} | naive: cv2.VideoCapture read() all, keep every {round(25 / fps)}th | "
              f"{naive_kept / minutes:.0f} | {naive_min:.2f} | 1.0 |")
        print(f"| {fps:g} | sample_segment (Sampler carried) | {ours_kept / minutes:.0f} | {ours_min:.2f} | "
              f"{naive_min / ours_min:.1f} |")
        if node is not None:
            run = watch_cameras(node, 1, fps, 1, watcher_seconds, 10.0, 2.0)
            per_min = run.watchers_cpu_s / run.seconds * 60
            print(f"| {fps:g} | whole Watcher, live loopback camera, 1x1 ({run.segments[0]} segments) | "
                  f"{fps * 60:.0f} | {per_min:.2f} | {naive_min / per_min:.1f} |")
            print(f"|  | (servers + redis for that camera) |  | {run.servers_cpu_s / run.seconds * 60:.2f} |  |")


def part_b(node: Node, counts: list[int], grid: int, seconds: float, warmup_s: float, lag_slack_s: float) -> None:
    print(f"\nPart B: watch_fps 1, grid {grid}x{grid}, {seconds:.0f} s window after {warmup_s:.0f} s warm-up, "
          f"{os.cpu_count()} cores\n")
    print("| cameras | keeping up | median lag first/last 30 s (s) | worst last lag (s) | segments min/expected "
          "| watchers CPU (cores) | servers + redis (cores) | other jobs (cores) | watchers PSS / RSS (GB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for count in counts:
        run = watch_cameras(node, count, 1.0, grid, seconds, warmup_s, lag_slack_s)
        first = statistics.median(run.lag_first_s) if run.lag_first_s else float("nan")
        last = statistics.median(run.lag_last_s) if run.lag_last_s else float("nan")
        worst = max(run.lag_last_s, default=float("nan"))
        other = max(0.0, run.machine_cpu_s - run.watchers_cpu_s - run.servers_cpu_s)
        print(f"| {count} | {run.keeping_up} | {first:.1f} / {last:.1f} | {worst:.1f} | "
              f"{min(run.segments)}/{seconds / SEGMENT_S:.0f} | {run.watchers_cpu_s / seconds:.2f} | "
              f"{run.servers_cpu_s / seconds:.2f} | {other / seconds:.2f} | "
              f"{run.pss_mb / 1024:.1f} / {run.rss_mb / 1024:.1f} |", flush=True)
        if run.failed:
            print("  behind: " + "; ".join(run.failed[:5]) + (" ..." if len(run.failed) > 5 else ""), flush=True)
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=Path(os.environ.get("HYPERSIGHT_SAMPLE_VIDEO", SHARED)))
    parser.add_argument("--parts", nargs="+", default=["A", "P", "B"], choices=["A", "B", "P"])
    parser.add_argument("--video-seconds", type=int, default=60)
    parser.add_argument("--fps", type=float, nargs="+", default=[1, 5], help="watch_fps values of part A")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the segments in part A")
    parser.add_argument("--watcher-seconds", type=float, default=60, help="whole-watcher window in part A")
    parser.add_argument("--profile-seconds", type=float, default=60)
    parser.add_argument("--cameras", type=int, nargs="+", default=[25, 50, 75, 100, 125])
    parser.add_argument("--grid", type=int, nargs="+", default=[1])
    parser.add_argument("--seconds", type=float, default=120, help="measured window of part B")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--lag-slack", type=float, default=2.0, help="allowed lag growth (s) in part B")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Stopping N watchers mid-segment is the bench's doing, not news.
    logging.getLogger().handlers[0].addFilter(lambda record: "the watcher is stopping" not in record.getMessage())
    # Imported here, before any fork, so that watchers share these pages with the parent.
    import server.watcher.watcher  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        segments = make_segments(args.video, tmp / "material", args.video_seconds)
        with loopback_node(tmp, segments) as node:
            if "A" in args.parts:
                part_a(segments, node, args.fps, args.repeats, args.watcher_seconds)
            if "P" in args.parts:
                profile_watcher(node, 1.0, args.profile_seconds)
            if "B" in args.parts:
                for grid in args.grid:
                    part_b(node, args.cameras, grid, args.seconds, args.warmup, args.lag_slack)


if __name__ == "__main__":
    main()
