"""Latency and throughput of the metric API over real HTTP (gunicorn), on SQLite and PostgreSQL.

Fills ``processor_event`` with ``--events`` rows (30 days of one traffic and one
objects processor among 10 processors), then times POST /traffic over a day and
over 30 days, POST /objects at a random instant, and an hourly series over a
week, first one request at a time (latency) then from 8 client threads
(throughput).

    .venv/bin/python bench/api_bench.py [--events 1000000] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.db import make_engine  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import Camera, ObjectsCounter, ProcessorEvent, TrafficCounter  # noqa: E402
from tests.support.servers import PostgresServer, free_port, redis_server, wait_for_port  # noqa: E402

START = datetime(2026, 1, 1)
DAYS = 30


def fill(uri: str, events: int) -> tuple[int, int]:
    engine = make_engine(uri)
    upgrade(engine)
    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            camera = Camera(stream_url="rtsp://127.0.0.1/bench", tz=3)
            camera.processors = [TrafficCounter() if i % 2 else ObjectsCounter() for i in range(10)]
            session.add(camera)
            session.flush()
            ids = [p.id for p in camera.processors]
        step = DAYS * 86400 / (events / len(ids))
        rng = random.Random(1)
        batch = []
        for n in range(events):
            processor_id = ids[n % len(ids)]
            batch.append({"processor_id": processor_id, "ts": START + timedelta(seconds=(n // len(ids)) * step),
                          "value": rng.randint(0, 5)})
            if len(batch) == 20000:
                conn.execute(insert(ProcessorEvent), batch)
                batch = []
        if batch:
            conn.execute(insert(ProcessorEvent), batch)
    engine.dispose()
    return ids[1], ids[0]  # a traffic and an objects processor


def queries(traffic_id: int, objects_id: int):
    day = START + timedelta(days=random.randint(0, DAYS - 2))
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    return {
        "traffic, 1 day": ("post", "/traffic", {"proc_id": traffic_id, "start_ts": day.strftime(fmt),
                                               "stop_ts": (day + timedelta(days=1)).strftime(fmt)}),
        "traffic, 30 days": ("post", "/traffic", {"proc_id": traffic_id, "start_ts": START.strftime(fmt),
                                                 "stop_ts": (START + timedelta(days=DAYS)).strftime(fmt)}),
        "objects at an instant": ("post", "/objects", {"proc_id": objects_id, "ts": day.strftime(fmt)}),
        "hourly series, 7 days": ("get", f"/api/processors/{traffic_id}/events",
                                  {"bucket": "hour", "start_ts": day.strftime(fmt),
                                   "stop_ts": (day + timedelta(days=7)).strftime(fmt)}),
    }


def call(base: str, method: str, path: str, body: dict) -> float:
    began = time.perf_counter()
    if method == "post":
        answer = requests.post(base + path, json=body, timeout=30)
    else:
        answer = requests.get(base + path, params=body, timeout=30)
    answer.raise_for_status()
    return (time.perf_counter() - began) * 1000


def measure(base: str, traffic_id: int, objects_id: int, count: int, database: str) -> None:
    for name in queries(traffic_id, objects_id):
        latencies = [call(base, *queries(traffic_id, objects_id)[name]) for _ in range(count)]
        began = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _, name=name: call(base, *queries(traffic_id, objects_id)[name]), range(count)))
        rate = count / (time.perf_counter() - began)
        p95 = statistics.quantiles(latencies, n=20)[18]
        print(f"| {database} | {name} | {statistics.median(latencies):.1f} | {p95:.1f} | {rate:.0f} |")


def serve(uri: str, redis_url: str) -> subprocess.Popen:
    port = free_port()
    env = {**os.environ, "HYPERSIGHT_SQLALCHEMY_DATABASE_URI": uri, "HYPERSIGHT_REDIS_URL": redis_url,
           "HYPERSIGHT_DEVELOPMENT": "true", "HYPERSIGHT_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--workers", "4", "--log-level",
                             "warning", "--bind", f"127.0.0.1:{port}", "server:create_app()"], cwd=ROOT, env=env)
    wait_for_port(port, proc=proc)
    proc.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"events: {args.events}; gunicorn 4 workers; 8 client threads for req/s")
    print("| database | query | p50 ms | p95 ms | req/s (8 clients) |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        with redis_server(Path(tmp)) as redis_url:
            pg_dir = Path(tmp) / "pg"
            pg_dir.mkdir()
            postgres = PostgresServer(pg_dir)
            postgres.init()
            postgres.start()
            try:
                for database, uri in (("SQLite", f"sqlite:///{tmp}/bench.db"),
                                      ("PostgreSQL", postgres.createdb("bench"))):
                    traffic_id, objects_id = fill(uri, args.events)
                    web = serve(uri, redis_url)
                    try:
                        measure(web.base, traffic_id, objects_id, args.requests, database)
                    finally:
                        web.terminate()
                        web.wait()
            finally:
                postgres.stop()


if __name__ == "__main__":
    main()
