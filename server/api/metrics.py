"""The metric queries of the original clients: /traffic, /objects, /statusWatch."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify
from sqlalchemy import select

from server.api.auth import protect
from server.api.errors import ApiError
from server.api.requests import int_field, json_object, optional_str
from server.extensions import db_session, redis_client
from server.models import Camera, Processor
from server.queries import latest_event, traffic_total
from server.timefmt import TimestampError, format_camera_time, parse_camera_time, utc_now
from server.watcher.heartbeat import read_heartbeats

bp = protect(Blueprint("metrics", __name__))


def _processor(data: dict) -> Processor:
    processor = db_session().get(Processor, int_field(data, "proc_id"))
    if processor is None:
        raise ApiError("Wrong processor id", 404)
    return processor


def _timestamp(data: dict, key: str, tz: float, *, required: bool):
    text = optional_str(data, key)
    if text is None:
        if required:
            raise ApiError(f"Missing field {key}")
        return utc_now()
    try:
        return parse_camera_time(text, tz)
    except TimestampError as exc:
        raise ApiError(f"{key}: {exc}") from None


@bp.post("/traffic")
@bp.post("/Traffic")
def traffic():
    """Objects that entered the zones in (start_ts, stop_ts]."""
    data = json_object()
    processor = _processor(data)
    tz = processor.camera.tz
    start = _timestamp(data, "start_ts", tz, required=True)
    stop = _timestamp(data, "stop_ts", tz, required=False)
    if stop < start:
        raise ApiError("stop_ts is before start_ts")
    total = traffic_total(db_session(), processor.id, start, stop)
    if total.events == 0:
        return jsonify({"err": True, "msg": "No records found"})
    return jsonify(
        {
            "err": False,
            "traffic": total.total,
            "min_ts": format_camera_time(total.min_ts, tz),
            "max_ts": format_camera_time(total.max_ts, tz),
        }
    )


@bp.post("/objects")
@bp.post("/Objects")
def objects():
    """Objects in the zones at ts: the latest event at or before it."""
    data = json_object()
    processor = _processor(data)
    tz = processor.camera.tz
    at = _timestamp(data, "ts", tz, required=False)
    event = latest_event(db_session(), processor.id, at)
    if event is None:
        return jsonify({"err": True, "msg": "No records found"})
    return jsonify({"err": False, "count": event.value, "ts": format_camera_time(event.ts, tz)})


@bp.get("/statusWatch")
def status_watch():
    """Each camera's watcher, from the heartbeats in Redis (no slow broadcast to workers)."""
    cameras = db_session().scalars(select(Camera).order_by(Camera.id)).all()
    beats = read_heartbeats(redis_client(), [camera.id for camera in cameras])
    now = time.time()
    answer = {}
    for camera in cameras:
        beat = beats.get(camera.id)
        answer[str(camera.id)] = {
            "watching": beat is not None,
            "url": camera.stream_url,
            "enabled": camera.enabled,
            "state": beat.state if beat else None,
            "node": beat.node if beat else None,
            "last_segment_age_s": round(now - beat.last_segment_at, 1)
            if beat and beat.last_segment_at
            else None,
            "lag_s": beat.lag_s if beat else None,
        }
    return jsonify(answer)

