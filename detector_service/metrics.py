"""Prometheus metrics of the detector service, in a registry of their own.

One registry per app (not the global one) so that several apps in one process (tests,
benchmarks) do not collide. Under gunicorn every worker process has its own counters;
run one worker with threads (see docs/detector.md) to scrape a single view.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """Requests, images (tiles), latency and errors, by endpoint."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("hypersight_detector_requests", "HTTP requests answered",
                                ["endpoint", "status"], registry=self.registry)
        self.images = Counter("hypersight_detector_images", "Images (mosaic tiles) run through the backend",
                              ["endpoint"], registry=self.registry)
        self.latency = Histogram("hypersight_detector_request_seconds", "Time to answer a request",
                                 ["endpoint"], buckets=LATENCY_BUCKETS_S, registry=self.registry)
        self.errors = Counter("hypersight_detector_errors", "Requests answered with an error status",
                              ["endpoint", "kind"], registry=self.registry)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if status >= 400:
            self.errors.labels(endpoint, "client" if status < 500 else "server").inc()

    def exposition(self) -> bytes:
        """The text format that Prometheus scrapes."""
        return generate_latest(self.registry)
