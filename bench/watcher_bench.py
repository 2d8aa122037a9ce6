"""CPU cost of one watcher per camera, at the sampling rates operators use.

A live 768x576, 25 fps H.264 HLS stream (the sample video, looped, 2 s segments)
is served on loopback; one watcher (the real Watcher class, in a child process so
that its CPU time can be measured alone) follows it for ``--seconds`` with a
traffic and an objects processor, against a detector that answers instantly with
five people per frame, so that what is measured is the watcher: download,
decode and sampling, mosaic JPEG encoding, HTTP, processors, database writes.

    .venv/bin/python bench/watcher_bench.py [--seconds 40] [--fps 1 2 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "vtest.avi"
PEOPLE = [[0.1 * i, 0.3, 0.1 * i + 0.08, 0.9, 0.9, 0] for i in range(1, 6)]


class InstantDetector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        rows, cols = (int(v) for v in self.headers.get("X-Grid", "1x1").split("x"))
        answer = [[c / cols + x0 / cols, r / rows + y0 / rows, c / cols + x1 / cols, r / rows + y1 / rows, s, k]
                  for r in range(rows) for c in range(cols) for x0, y0, x1, y1, s, k in PEOPLE]
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        pass


def watch(url: str, detector_url: str, redis_url: str, workdir: str, fps: float, grid: int, seconds: float,
          results) -> None:
    """Child process: one watcher for ``seconds``; puts its CPU seconds (all threads, after start-up)."""
    import redis
    import requests

    from detector_client import ObjectDetectorClient
    from server.db import make_engine, make_sessionmaker
    from server.migrate import upgrade
    from server.models import Camera, ObjectsCounter, TrafficCounter
    from server.processors import ProcessorContext
    from server.watcher.watcher import Watcher, WatcherDeps

    engine = make_engine(f"sqlite:///{workdir}/bench.db")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        camera = Camera(stream_url=url, watch_fps=fps, watch_rows=grid, watch_cols=grid)
        camera.processors = [TrafficCounter(), ObjectsCounter()]
        session.add(camera)
        session.commit()
        camera_id = camera.id
    deps = WatcherDeps(config={"WATCHER_LEASE_TTL_S": 30, "SEGMENTS_DIR": f"{workdir}/segments"},
                       sessions=sessions, redis=redis.Redis.from_url(redis_url),
                       detector=ObjectDetectorClient(detector_url), context_factory=lambda u: ProcessorContext(),
                       previews_factory=lambda: None, http=requests.Session())
    watcher = Watcher(camera_id, deps)
    threading.Timer(seconds, watcher.stop.set).start()
    before = resource.getrusage(resource.RUSAGE_SELF)
    watcher.run()
    after = resource.getrusage(resource.RUSAGE_SELF)
    results.put(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=Path(os.environ.get("HYPERSIGHT_SAMPLE_VIDEO", SHARED)))
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--fps", type=float, nargs="+", default=[1, 2, 5])
    args = parser.parse_args()
    from tests.support.servers import redis_server
    from tests.support.streams import StaticServer

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
        stream_dir = Path(tmp) / "stream"
        stream_dir.mkdir()
        ffmpeg = subprocess.Popen(
            ["ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(args.video), "-r", "25", "-c:v",
             "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p", "-f", "hls", "-hls_time", "2",
             "-hls_list_size", "6", "-hls_flags", "delete_segments+program_date_time+omit_endlist",
             str(stream_dir / "live.m3u8")])
        http = StaticServer(stream_dir).start()
        detector = ThreadingHTTPServer(("127.0.0.1", 0), InstantDetector)
        threading.Thread(target=detector.serve_forever, daemon=True).start()
        detector_url = f"http://127.0.0.1:{detector.server_address[1]}/detect"
        time.sleep(5)
        print("| watch_fps | grid | seconds | watcher CPU s | CPU % of one core | cameras per core |")
        print("| --- | --- | --- | --- | --- | --- |")
        context = multiprocessing.get_context("spawn")
        for fps in args.fps:
            for grid in (1, 2):
                run = Path(tmp) / f"run-{fps}-{grid}"
                run.mkdir()
                results = context.Queue()
                proc = context.Process(target=watch, args=(http.url("live.m3u8"), detector_url, redis_url, str(run),
                                                           fps, grid, args.seconds, results))
                proc.start()
                spent = results.get(timeout=args.seconds + 120)
                proc.join()
                share = spent / args.seconds
                print(f"| {fps:g} | {grid}x{grid} | {args.seconds:.0f} | {spent:.1f} | {100 * share:.1f} | "
                      f"{1 / share:.0f} |")
        ffmpeg.terminate()
        ffmpeg.wait()
        http.stop()
        detector.shutdown()


if __name__ == "__main__":
    main()
