"""Live HLS streams made by ffmpeg from synthetic video and served over HTTP on loopback.

The synthetic scene: a black 320x240 frame in which one white 40x80 box (a
"person") walks left to right at ``speed_px_s`` and starts again from the left
edge, so the number of zone entries in a time span is known.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WIDTH, HEIGHT = 320, 240


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass


class StaticServer:
    """Serves a folder over HTTP on a free loopback port; can be stopped and started (an outage)."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder = folder
        self.port = port
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> StaticServer:
        handler = functools.partial(QuietHandler, directory=str(self.folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


def walker_source(speed_px_s: float = 80.0, fps: int = 10) -> list[str]:
    """ffmpeg input options for the synthetic scene."""
    period = (WIDTH + 40) / speed_px_s
    # overlay evaluates its position every frame (drawbox does not).
    graph = (f"color=c=black:s={WIDTH}x{HEIGHT}:r={fps}[bg];color=c=white:s=40x80:r={fps}[fg];"
             f"[bg][fg]overlay=x='mod(t,{period:.4f})*{speed_px_s}-40':y=120[out0]")
    return ["-f", "lavfi", "-i", graph]


class LiveHls:
    """ffmpeg writing a live HLS playlist (1 s segments, program date-times) in real time."""

    def __init__(self, folder: Path, speed_px_s: float = 80.0) -> None:
        self.folder = folder
        self.speed_px_s = speed_px_s
        self.process: subprocess.Popen | None = None
        self.http = StaticServer(folder)

    @property
    def url(self) -> str:
        return self.http.url("live.m3u8")

    def start(self) -> LiveHls:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-re", *walker_source(self.speed_px_s),
             "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
             "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
             "-hls_flags", "delete_segments+program_date_time+omit_endlist", str(self.folder / "live.m3u8")],
            stdin=subprocess.DEVNULL)
        if self.http.server is None:
            self.http.start()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        self.http.stop()

    def __enter__(self) -> LiveHls:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
