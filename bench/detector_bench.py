"""Detector service throughput: one request per frame versus one mosaic request per 2x2 and 3x3 grid.

Starts ``python -m detector_service`` as a subprocess on a free loopback port (as an
operator would), posts vtest.avi frames through ``ObjectDetectorClient`` one request at a
time (as one watcher does), and prints frames per second and request latency.

Usage:
    .venv/bin/python bench/detector_bench.py                    # opencv and onnx (shared yolov8n)
    .venv/bin/python bench/detector_bench.py --backend onnx --model my.onnx --frames 36
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from detector_client import ObjectDetectorClient  # noqa: E402

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_MODEL = SHARED_DATA / "models" / "yolov8n-int8-640.onnx"
GRIDS = [(1, 1), (2, 2), (3, 3)]


@dataclass
class Result:
    backend: str
    device: str
    grid: tuple[int, int]
    frames: int
    seconds: float
    latencies_s: list[float]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    def row(self) -> str:
        lat = sorted(self.latencies_s)
        p50, p95 = statistics.median(lat), lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        grid = f"{self.grid[0]}x{self.grid[1]}"
        return (f"| {self.backend} | {self.device} | {grid} | {self.frames} | {len(lat)} | {self.fps:.1f} "
                f"| {1000 * p50:.0f} | {1000 * p95:.0f} | {1000 * self.seconds / self.frames:.0f} |")


def read_frames(count: int, step: int = 7) -> list[np.ndarray]:
    path = Path(os.environ.get("HYPERSIGHT_SAMPLE_VIDEO", SHARED_DATA / "vtest.avi"))
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(frame)
        index += 1
    capture.release()
    if len(frames) < count:
        raise SystemExit(f"could not read {count} frames from {path}")
    return frames


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(flags: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSIGHT_DETECTOR_")}
    proc = subprocess.Popen([sys.executable, "-m", "detector_service", "--port", str(port), "--log-level",
                             "WARNING", *flags], cwd=REPO_ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=1).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the detector service did not start")


def run_grid(client: ObjectDetectorClient, frames: list[np.ndarray], grid: tuple[int, int],
             backend: str, device: str) -> Result:
    per_request = grid[0] * grid[1]
    client.detect(frames[:per_request], grid)  # warm-up (first-call allocations)
    latencies = []
    started = time.perf_counter()
    for start in range(0, len(frames), per_request):
        t0 = time.perf_counter()
        client.detect(frames[start : start + per_request], grid)
        latencies.append(time.perf_counter() - t0)
    return Result(backend, device, grid, len(frames), time.perf_counter() - started, latencies)


def bench_backend(label: str, flags: list[str], frames: list[np.ndarray]) -> list[Result]:
    proc, url = start_service(flags)
    try:
        health = requests.get(f"{url}/health", timeout=5).json()
        print(f"# {label}: {health}", flush=True)
        client = ObjectDetectorClient(f"{url}/detect", read_timeout_s=120)
        results = []
        for grid in GRIDS:
            results.append(run_grid(client, frames, grid, label, health["device"].upper()))
            print(results[-1].row(), flush=True)
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def markdown(results: list[Result], frames: int, threads: int) -> str:
    import onnxruntime

    header = (
        "| backend | device | grid | frames | requests | frames/s | p50 request ms | p95 request ms | ms per frame |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    machine = (f"{os.cpu_count()} cores, {cpu_model()}, {platform.system()} {platform.release()}, "
               f"Python {platform.python_version()}, OpenCV {cv2.__version__}, ONNX Runtime {onnxruntime.__version__}")
    return "\n".join([header, *(r.row() for r in results), "", f"Machine: {machine}; backend threads: {threads}; "
                      f"{frames} frames of vtest.avi (768x576) per grid, one request at a time."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["opencv", "onnx", "all"], default="all")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="ONNX model of the onnx backend")
    parser.add_argument("--frames", type=int, default=36, help="frames per grid (a multiple of 36 fills every grid)")
    parser.add_argument("--threads", type=int, default=2, help="backend threads")
    args = parser.parse_args()
    frames = read_frames(args.frames)
    results: list[Result] = []
    common = ["--threads", str(args.threads)]
    if args.backend in ("opencv", "all"):
        results += bench_backend("opencv (HOG, upscale 1.5)", ["--backend", "opencv", *common], frames)
    if args.backend in ("onnx", "all"):
        if not args.model.is_file():
            raise SystemExit(f"model not found: {args.model}")
        label = f"onnx ({args.model.name})"
        results += bench_backend(label, ["--backend", "onnx", "--model", str(args.model), *common], frames)
    print("\n# Table for bench/BENCHMARKS.md, section '## Detector':")
    print(markdown(results, args.frames, args.threads))


if __name__ == "__main__":
    main()
