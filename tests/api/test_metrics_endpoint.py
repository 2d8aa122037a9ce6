"""GET /metrics: request metrics of the web app and counters of every watcher, read from Redis."""

from __future__ import annotations

import time

from server.metrics import WatcherMetrics
from server.watcher.heartbeat import Heartbeat, lease_key


def test_metrics_cover_requests_and_the_fleet(client, redis_client):
    client.get("/api/cameras")
    metrics = WatcherMetrics(redis_client, 5)
    metrics.record({"segments": 1, "frames": 4, "events": 2}, [0.08, 0.3])
    metrics.record({"segments": 1, "frames": 4, "detector_errors": 1})
    beat = Heartbeat(camera_id=5, node="n1", pid=1, state="detector_down", last_segment_at=time.time() - 2,
                     updated_at=time.time(), lag_s=3.5)
    redis_client.set(lease_key(5), beat.to_json(), ex=30)

    answer = client.get("/metrics")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert 'hypersight_http_requests_total{endpoint="/api/cameras",method="GET",status="200"}' in text
    assert 'hypersight_watcher_segments_total{camera="5"} 2.0' in text
    assert 'hypersight_watcher_frames_total{camera="5"} 8.0' in text
    assert 'hypersight_watcher_detector_errors_total{camera="5"} 1.0' in text
    assert 'hypersight_detector_request_seconds_bucket{camera="5",le="0.1"} 1.0' in text
    assert 'hypersight_detector_request_seconds_count{camera="5"} 2.0' in text
    assert 'hypersight_watcher_state{camera="5",state="detector_down"} 1.0' in text
    assert 'hypersight_watcher_state{camera="5",state="streaming"} 0.0' in text
    assert 'hypersight_watcher_lag_seconds{camera="5"} 3.5' in text


def test_metrics_need_the_api_token_when_set(app_factory):
    client = app_factory(API_TOKENS=["tok"]).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer tok"}).status_code == 200
