"""CRUD of processors of any type (/api/processors) and their event series."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from server.api.auth import protect
from server.api.errors import ApiError
from server.api.requests import int_arg, json_object, require_json_body, validate
from server.api.schemas import ProcessorIn, merged
from server.extensions import db_session
from server.models import Camera, Processor, processor_types
from server.queries import AGGREGATES, BUCKETS, event_series, list_events
from server.timefmt import TimestampError, format_camera_time, parse_camera_time, utc_now

bp = protect(Blueprint("processors", __name__, url_prefix="/api/processors"))
bp.before_request(require_json_body)
FIELDS = tuple(ProcessorIn.model_fields)
MAX_EVENTS = 10_000
DEFAULT_SPAN = timedelta(days=1)


def _settings(processor: Processor) -> dict:
    return {field: getattr(processor, field) for field in FIELDS}


def processor_json(processor: Processor) -> dict:
    return _settings(processor) | {"id": processor.id}


def _get(processor_id: int) -> Processor:
    processor = db_session().get(Processor, processor_id)
    if processor is None:
        raise ApiError(f"No processor {processor_id}", 404)
    return processor


def _check_camera(camera_id: int) -> None:
    if db_session().get(Camera, camera_id) is None:
        raise ApiError(f"No camera {camera_id}", 404 if request.method == "PATCH" else 400)


@bp.get("")
def list_processors():
    query = select(Processor).order_by(Processor.id)
    camera_id = int_arg("camera_id")
    if camera_id is not None:
        query = query.where(Processor.camera_id == camera_id)
    return jsonify([processor_json(p) for p in db_session().scalars(query)])


@bp.post("")
def create_processor():
    values = validate(ProcessorIn, json_object())
    _check_camera(values.camera_id)
    model = processor_types()[values.type]
    processor = model(**values.model_dump(exclude={"type"}))
    session = db_session()
    session.add(processor)
    session.commit()
    return jsonify(processor_json(processor)), 201


@bp.get("/<int(max=2147483647):processor_id>")
def get_processor(processor_id: int):
    return jsonify(processor_json(_get(processor_id)))


@bp.patch("/<int(max=2147483647):processor_id>")
def update_processor(processor_id: int):
    processor = _get(processor_id)
    patch = json_object()
    if "type" in patch and patch["type"] != processor.type:
        raise ApiError("type cannot be changed; create a processor of the new type instead")
    values = validate(ProcessorIn, merged(_settings(processor), patch))
    _check_camera(values.camera_id)
    for field, value in values.model_dump(exclude={"type"}).items():
        setattr(processor, field, value)
    db_session().commit()
    return jsonify(processor_json(processor))


@bp.delete("/<int(max=2147483647):processor_id>")
def delete_processor(processor_id: int):
    session = db_session()
    session.delete(_get(processor_id))
    session.commit()
    return jsonify({"err": False, "deleted": processor_id})


def _query_time(key: str, tz: float) -> datetime | None:
    """A timestamp of the query string, or None when absent; unreadable is a 400 naming the key."""
    if key not in request.args:
        return None
    try:
        return parse_camera_time(request.args[key], tz)
    except TimestampError as exc:
        raise ApiError(f"{key}: {exc}") from None


def _range(tz: float) -> tuple[datetime, datetime]:
    """(start, stop) of the query; stop defaults to now, start to a day before stop.

    A default start that would fall before year 1 (a stop in its first day) is
    clamped to the first representable time: the client asked for events up to
    stop, and there can be none earlier.
    """
    stop = _query_time("stop_ts", tz)
    if stop is None:
        stop = utc_now()
    start = _query_time("start_ts", tz)
    if start is None:
        start = stop - DEFAULT_SPAN if stop - datetime.min >= DEFAULT_SPAN else datetime.min
    if stop < start:
        raise ApiError("stop_ts is before start_ts")
    return start, stop


@bp.get("/<int(max=2147483647):processor_id>/events")
def events(processor_id: int):
    """Events in (start_ts, stop_ts] (default: the last day), raw or in minute/hour/day buckets."""
    processor = _get(processor_id)
    tz = processor.camera.tz
    start, stop = _range(tz)
    bucket = request.args.get("bucket")
    if bucket is None:
        limit_text = request.args.get("limit", "1000")
        limit = int(limit_text) if limit_text.isascii() and limit_text.isdigit() and len(limit_text) < 7 else 0
        if not 1 <= limit <= MAX_EVENTS:
            raise ApiError(f"limit must be an integer from 1 to {MAX_EVENTS}")
        rows = list_events(db_session(), processor.id, start, stop, limit)
        return jsonify({"err": False, "events": [
            {"ts": format_camera_time(e.ts, tz), "value": e.value} for e in rows]})
    if bucket not in BUCKETS:
        raise ApiError(f"bucket must be one of {', '.join(BUCKETS)}")
    agg = request.args.get("agg", "sum" if processor.type == "traffic" else "max")
    if agg not in AGGREGATES:
        raise ApiError(f"agg must be one of {', '.join(AGGREGATES)}")
    series = event_series(db_session(), processor.id, start, stop, bucket=bucket, agg=agg, tz_hours=tz)
    return jsonify({"err": False, "bucket": bucket, "agg": agg, "series": [
        {"ts": key.strftime("%Y-%m-%d %H:%M:%S"), "value": value} for key, value in series]})
