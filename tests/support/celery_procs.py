"""Real Celery worker and beat processes for integration tests, configured through HYPERSIGHT_* variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).parent / "celery")


class CeleryProcesses:
    """Start workers and beat as the systemd units would, and stop them the same ways a machine can."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the child)
        proc = subprocess.Popen([CELERY, "-A", "celery_worker.celery", *args], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def worker(self, name: str, concurrency: int = 2) -> subprocess.Popen:
        return self._start(name, ["worker", "-Q", "watchers,control", "-n", f"{name}@%h", "--concurrency",
                                  str(concurrency), "--loglevel", "INFO", "--without-gossip", "--without-mingle"])

    def beat(self) -> subprocess.Popen:
        return self._start("beat", ["beat", "--loglevel", "INFO", "--schedule",
                                    str(self.logdir / "beat-schedule")])

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def signal(self, name: str, signum: int) -> None:
        """Signal the process; SIGKILL goes to its whole group, as when a machine dies."""
        proc = self.procs[name]
        if signum == signal.SIGKILL:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signum)

    def wait(self, name: str, timeout_s: float) -> int:
        return self.procs[name].wait(timeout=timeout_s)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
