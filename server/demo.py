"""``make demo``: the whole system on embedded defaults, on one machine, in one terminal.

Starts a private Redis, the reference detector (OpenCV backend), a Celery worker
and beat, the faces relay and the web app on SQLite under ``var/demo``; serves
the sample video as a live HLS stream in a loop (with program date-times);
registers a demo camera with traffic, objects and face processors; prints the
admin URL, a login and ready-to-paste ``curl`` calls. Ctrl-C stops every process
it started.

    python -m server.demo [--port 5000] [--video PATH] [--fps 2]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from server.config import PROJECT_ROOT

log = logging.getLogger("server.demo")

VIDEO_CANDIDATES = (
    PROJECT_ROOT.parent / "shared" / "data" / "vtest.avi",
    Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
)


def find_video(explicit: str | None) -> Path:
    for candidate in (explicit, os.environ.get("HYPERSIGHT_SAMPLE_VIDEO"), *VIDEO_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit("demo: no sample video. Set HYPERSIGHT_SAMPLE_VIDEO, or install Debian's opencv-doc "
                     "(make demo does), which ships /usr/share/doc/opencv-doc/examples/data/vtest.avi")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Supervisor:
    """Starts children in their own sessions, logs each to a file, stops them all (and theirs) at the end."""

    def __init__(self, logdir: Path, env: dict[str, str]) -> None:
        self.logdir = logdir
        self.env = env
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        logfile = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 (owned by the child)
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=logfile, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.children[name] = proc
        with (self.logdir / "pids").open("a") as pids:
            pids.write(f"{proc.pid} {name}\n")
        return proc

    def run(self, command: list[str]) -> str:
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"demo: {' '.join(command[-3:])} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def dead(self) -> list[str]:
        return [name for name, proc in self.children.items() if proc.poll() is not None]

    def stop(self) -> None:
        """SIGTERM to each child's whole session (celery's pool, ffmpeg), then SIGKILL what is left."""
        for proc in reversed(self.children.values()):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.children.values():
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)


def serve_folder(folder: Path, port: int) -> ThreadingHTTPServer:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def demo_env(home: Path, ports: dict[str, int]) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "HYPERSIGHT_DEVELOPMENT": "true",
        # One key for every gunicorn worker, or a login made on one is refused by the other.
        "HYPERSIGHT_SECRET_KEY": secrets.token_hex(32),
        "HYPERSIGHT_SQLALCHEMY_DATABASE_URI": f"sqlite:///{home / 'hypersight.db'}",
        "HYPERSIGHT_REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
        "HYPERSIGHT_OBJECT_DETECTOR_URL": f"http://127.0.0.1:{ports['detector']}/detect",
        "HYPERSIGHT_FACE_DETECTOR_URL": f"http://127.0.0.1:{ports['detector']}/faces",
        "HYPERSIGHT_SEGMENTS_DIR": str(home / "segments"),
        "HYPERSIGHT_PROCESSORS_PREVIEW_DIR": str(home / "previews"),
        "HYPERSIGHT_FACE_WS_PORT": str(ports["faces"]),
        "HYPERSIGHT_WATCHER_CHECK_S": "5",
        "HYPERSIGHT_WATCHER_LEASE_TTL_S": "15",
        "HYPERSIGHT_DETECTOR_READ_TIMEOUT_S": "30",
    }


def start_all(sup: Supervisor, home: Path, video: Path, ports: dict[str, int]) -> None:
    py = sys.executable
    bin_dir = Path(py).parent
    sup.start("redis", ["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(home)])
    sup.start("stream", ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(video),
                         "-c:v", "libx264", "-preset", "veryfast", "-g", "20", "-pix_fmt", "yuv420p", "-an",
                         "-f", "hls", "-hls_time", "2", "-hls_list_size", "6",
                         "-hls_flags", "delete_segments+program_date_time+omit_endlist",
                         str(home / "stream" / "live.m3u8")])
    sup.start("detector", [py, "-m", "detector_service", "--host", "127.0.0.1", "--port", str(ports["detector"]),
                           "--backend", "opencv"])
    sup.start("worker", [str(bin_dir / "celery"), "-A", "celery_worker.celery", "worker", "-Q", "watchers,control",
                         "--concurrency", "3", "--loglevel", "INFO", "-n", "demo@%h"])
    sup.start("beat", [str(bin_dir / "celery"), "-A", "celery_worker.celery", "beat", "--loglevel", "INFO",
                       "--schedule", str(home / "beat-schedule")])
    sup.start("faces", [py, "-m", "server.faces_ws", "--port", str(ports["faces"])])
    sup.start("web", [str(bin_dir / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{ports['web']}",
                      "--access-logfile", "-", "server:create_app()"])


def register_camera(sup: Supervisor, stream_url: str, fps: float) -> dict:
    """The demo camera, in the machine's time zone so that the printed timestamps read as local time."""
    tz_hours = round((datetime.now().astimezone().utcoffset() or timedelta()).total_seconds() / 3600, 2)
    out = sup.run([sys.executable, "-m", "flask", "--app", "server", "add-demo-camera", stream_url,
                   "--fps", str(fps), "--tz", str(tz_hours), "--json"])
    return {**json.loads(out.strip().splitlines()[-1]), "tz": tz_hours}


def _shown(path: Path) -> str:
    """A folder as the user would type it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def banner(ports: dict[str, int], ids: dict, password: str, logs: Path) -> str:
    base = f"http://127.0.0.1:{ports['web']}"
    local_now = datetime.now(UTC) + timedelta(hours=ids["tz"])
    since = (local_now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    return "\n".join([
        "",
        "hypersight demo is running. Counts appear within a minute.",
        f"  admin site:   {base}/admin/   (login: admin / {password})",
        f"  status:       curl -s {base}/statusWatch",
        f"  traffic:      curl -s -XPOST {base}/traffic -d '{{\"proc_id\": {ids['traffic']}, "
        f"\"start_ts\": \"{since}\"}}'",
        f"  objects now:  curl -s -XPOST {base}/objects -d '{{\"proc_id\": {ids['object']}}}'",
        f"  preview:      {base}/videos/{ids['traffic']}/index.m3u8",
        f"  faces:        ws://127.0.0.1:{ports['faces']}  (send 'client', receive 'OK', then JSON per frame)",
        f"  logs:         {_shown(logs)}/",
        "Press Ctrl-C to stop everything.",
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the whole hypersight system on embedded defaults.")
    parser.add_argument("--port", type=int, default=5000, help="port of the web app")
    parser.add_argument("--video", help="sample video (default: HYPERSIGHT_SAMPLE_VIDEO, then vtest.avi)")
    parser.add_argument("--fps", type=float, default=2.0, help="frames sampled per second")
    parser.add_argument("--home", type=Path, default=PROJECT_ROOT / "var" / "demo")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    video = find_video(args.video)
    shutil.rmtree(args.home, ignore_errors=True)
    for folder in ("stream", "logs", "segments", "previews"):
        (args.home / folder).mkdir(parents=True, exist_ok=True)
    ports = {"web": args.port, "redis": free_port(), "detector": free_port(), "faces": free_port(),
             "stream": free_port()}
    sup = Supervisor(args.home / "logs", demo_env(args.home, ports))
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    http = serve_folder(args.home / "stream", ports["stream"])
    try:
        sup.run([sys.executable, "-m", "flask", "--app", "server", "init-db"])
        password = secrets.token_urlsafe(9)
        sup.run([sys.executable, "-m", "flask", "--app", "server", "create-user", "admin", "--password", password])
        ids = register_camera(sup, f"http://127.0.0.1:{ports['stream']}/live.m3u8", args.fps)
        start_all(sup, args.home, video, ports)
        log.info("%s", banner(ports, ids, password, args.home / "logs"))
        while not stopping.wait(2):
            if dead := sup.dead():
                log.error("demo: %s stopped unexpectedly; see %s/%s.log", ", ".join(dead),
                          _shown(args.home / "logs"), dead[0])
                break
    finally:
        log.info("stopping...")
        sup.stop()
        http.shutdown()
        log.info("stopped.")


if __name__ == "__main__":
    main()
