"""Prometheus metrics: the web app's requests, and every watcher of the cluster.

Watchers run in many processes on many nodes, so they do not each serve
metrics: they add their counts to one Redis hash per camera (one pipelined
round trip per segment), and the web app's ``/metrics`` reads those hashes and
the heartbeats. One scrape of any web node then covers the whole fleet, and a
watcher that moves to another node keeps its counters.

The web app's own request metrics use prometheus_client's multiprocess mode
when gunicorn runs several workers (``PROMETHEUS_MULTIPROC_DIR`` set, as the
systemd unit does); otherwise the process registry.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator

import redis
from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from server.watcher.heartbeat import KEY_PREFIX, WatcherState, read_heartbeats

METRICS_PREFIX = "hypersight:metrics:camera:"
DETECTOR_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COUNTERS = {
    "segments": "Segments processed",
    "frames": "Frames sampled and processed",
    "events": "Processor events computed",
    "detector_errors": "Detector calls that failed (down or garbage)",
    "corrupt_segments": "Segments skipped as undecodable",
    "dropped_frames": "Sampled frames dropped because the detector was down too long",
}

REQUESTS = Counter("hypersight_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram("hypersight_http_request_seconds", "HTTP request latency", ["endpoint"])


class WatcherMetrics:
    """What one watcher adds to its camera's hash after each segment."""

    def __init__(self, client: redis.Redis, camera_id: int) -> None:
        self.client = client
        self.key = f"{METRICS_PREFIX}{camera_id}"

    def record(self, counts: dict[str, int], detector_seconds: Iterable[float] = ()) -> None:
        # Summed here first: one command per field, not one per detector call and bucket.
        totals = {name: value for name, value in counts.items() if value}
        seconds_sum = 0.0
        for seconds in detector_seconds:
            seconds_sum += seconds
            totals["detector_calls"] = totals.get("detector_calls", 0) + 1
            for bound in DETECTOR_BUCKETS_S:
                if seconds <= bound:
                    totals[f"detector_le_{bound}"] = totals.get(f"detector_le_{bound}", 0) + 1
        if not totals:
            return
        pipe = self.client.pipeline(transaction=False)
        for name, value in totals.items():
            pipe.hincrby(self.key, name, value)
        if seconds_sum:
            pipe.hincrbyfloat(self.key, "detector_seconds_sum", seconds_sum)
        with contextlib.suppress(redis.RedisError):  # metrics are best effort; the watcher's work is not
            pipe.execute()


class FleetCollector(Collector):
    """Counters of every camera's watchers from Redis, and state and lag from the heartbeats."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator:
        try:
            hashes = self._hashes()
            beats = read_heartbeats(self.client, self._leased())
        except redis.RedisError:
            return
        yield from self._counters(hashes)
        yield self._detector_histogram(hashes)
        yield from self._states(beats)

    def _hashes(self) -> dict[str, dict[str, str]]:
        keys = sorted(self.client.scan_iter(f"{METRICS_PREFIX}*"))
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return {key.rsplit(":", 1)[1]: values for key, values in zip(keys, pipe.execute(), strict=True)}

    def _leased(self) -> list[int]:
        return [int(key.rsplit(":", 1)[1]) for key in self.client.scan_iter(f"{KEY_PREFIX}[0-9]*")]

    def _counters(self, hashes: dict[str, dict[str, str]]) -> Iterator[CounterMetricFamily]:
        for name, help_text in COUNTERS.items():
            family = CounterMetricFamily(f"hypersight_watcher_{name}", help_text, labels=["camera"])
            for camera, values in hashes.items():
                family.add_metric([camera], float(values.get(name, 0)))
            yield family

    def _detector_histogram(self, hashes: dict[str, dict[str, str]]) -> HistogramMetricFamily:
        family = HistogramMetricFamily("hypersight_detector_request_seconds", "Detector call latency seen by watchers",
                                       labels=["camera"])
        for camera, values in hashes.items():
            buckets = [(str(bound), float(values.get(f"detector_le_{bound}", 0))) for bound in DETECTOR_BUCKETS_S]
            buckets.append(("+Inf", float(values.get("detector_calls", 0))))
            family.add_metric([camera], buckets, float(values.get("detector_seconds_sum", 0)))
        return family

    def _states(self, beats) -> Iterator[GaugeMetricFamily]:
        state = GaugeMetricFamily("hypersight_watcher_state", "1 for the state each camera's watcher is in",
                                  labels=["camera", "state"])
        lag = GaugeMetricFamily("hypersight_watcher_lag_seconds", "How far behind live the last segment was",
                                labels=["camera"])
        age = GaugeMetricFamily("hypersight_watcher_last_segment_age_seconds", "Time since the last segment",
                                labels=["camera"])
        now = time.time()
        for camera_id, beat in beats.items():
            if beat is None:
                continue
            for known in WatcherState:
                state.add_metric([str(camera_id), known.value], 1.0 if beat.state == known.value else 0.0)
            if beat.lag_s is not None:
                lag.add_metric([str(camera_id)], beat.lag_s)
            if beat.last_segment_at:
                age.add_metric([str(camera_id)], now - beat.last_segment_at)
        yield from (state, lag, age)


def _registry(client: redis.Redis) -> CollectorRegistry:
    registry = CollectorRegistry()
    # prometheus_client's own switch: gunicorn's workers share counters through this folder.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(FleetCollector(client))
    return registry


def init_metrics(app: Flask, protect) -> None:
    """Request metrics on every route, and ``GET /metrics`` (behind the API tokens when set)."""

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        if "request_started" in g:
            LATENCY.labels(endpoint).observe(time.perf_counter() - g.request_started)
        return response

    from server.extensions import redis_client

    @app.get("/metrics")
    def metrics() -> Response:
        protect()
        return Response(generate_latest(_registry(redis_client())), mimetype=CONTENT_TYPE_LATEST)
