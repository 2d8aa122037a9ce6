"""Metric queries over processor events: traffic sums, object counts, chart series.

All of them run on the (processor_id, ts) index; no query reads raw detections,
because none are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, literal_column, select, text
from sqlalchemy.orm import Session

from server.models import ProcessorEvent

BUCKETS = ("minute", "hour", "day")
AGGREGATES = {"sum": func.sum, "max": func.max, "min": func.min, "avg": func.avg, "count": func.count}
_SQLITE_FORMATS = {"minute": "%Y-%m-%d %H:%M:00", "hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}


@dataclass(frozen=True)
class TrafficTotal:
    total: int
    min_ts: datetime | None
    max_ts: datetime | None
    events: int


def traffic_total(session: Session, processor_id: int, start: datetime, stop: datetime) -> TrafficTotal:
    """Sum of event values in (start, stop]: start exclusive so that consecutive intervals add up."""
    row = session.execute(
        select(
            func.coalesce(func.sum(ProcessorEvent.value), 0),
            func.min(ProcessorEvent.ts),
            func.max(ProcessorEvent.ts),
            func.count(ProcessorEvent.id),
        ).where(
            ProcessorEvent.processor_id == processor_id,
            ProcessorEvent.ts > start,
            ProcessorEvent.ts <= stop,
        )
    ).one()
    return TrafficTotal(total=int(row[0]), min_ts=row[1], max_ts=row[2], events=int(row[3]))


def latest_event(session: Session, processor_id: int, at: datetime) -> ProcessorEvent | None:
    """The event in force at ``at``: the latest at or before it."""
    return session.scalars(
        select(ProcessorEvent)
        .where(ProcessorEvent.processor_id == processor_id, ProcessorEvent.ts <= at)
        .order_by(ProcessorEvent.ts.desc(), ProcessorEvent.id.desc())
        .limit(1)
    ).first()


def list_events(
    session: Session, processor_id: int, start: datetime, stop: datetime, limit: int
) -> list[ProcessorEvent]:
    return list(
        session.scalars(
            select(ProcessorEvent)
            .where(
                ProcessorEvent.processor_id == processor_id,
                ProcessorEvent.ts > start,
                ProcessorEvent.ts <= stop,
            )
            .order_by(ProcessorEvent.ts, ProcessorEvent.id)
            .limit(limit)
        )
    )


def _bucket_expression(dialect: str, bucket: str, tz_hours: float) -> ColumnElement:
    """Start of the camera-local bucket of each event, computed by the database."""
    if dialect == "sqlite":
        return func.strftime(_SQLITE_FORMATS[bucket], ProcessorEvent.ts, f"{tz_hours:+.4f} hours")
    if dialect == "postgresql":
        shifted = ProcessorEvent.ts + text(f"interval '{float(tz_hours) * 3600:.0f} seconds'")
        return func.date_trunc(literal_column(f"'{bucket}'"), shifted)
    raise NotImplementedError(dialect)


def _python_bucket(local: datetime, bucket: str) -> datetime:
    if bucket == "minute":
        return local.replace(second=0, microsecond=0)
    if bucket == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def event_series(
    session: Session,
    processor_id: int,
    start: datetime,
    stop: datetime,
    *,
    bucket: str,
    agg: str,
    tz_hours: float,
) -> list[tuple[datetime, float]]:
    """(camera-local bucket start, aggregate) pairs for a chart, oldest first."""
    dialect = session.get_bind().dialect.name
    where = (
        ProcessorEvent.processor_id == processor_id,
        ProcessorEvent.ts > start,
        ProcessorEvent.ts <= stop,
    )
    if dialect not in ("sqlite", "postgresql"):
        return _series_in_python(session, where, bucket=bucket, agg=agg, tz_hours=tz_hours)
    key = _bucket_expression(dialect, bucket, tz_hours).label("bucket")
    rows = session.execute(
        select(key, AGGREGATES[agg](ProcessorEvent.value)).where(*where).group_by(key).order_by(key)
    ).all()
    series = []
    for bucket_start, value in rows:
        if isinstance(bucket_start, str):
            bucket_start = datetime.strptime(bucket_start, "%Y-%m-%d %H:%M:%S")
        series.append((bucket_start, float(value)))
    return series


def _series_in_python(session: Session, where: tuple, *, bucket: str, agg: str, tz_hours: float):
    """Portable fallback for databases without a bucket expression above (e.g. MySQL)."""
    groups: dict[datetime, list[int]] = {}
    rows = session.execute(select(ProcessorEvent.ts, ProcessorEvent.value).where(*where).order_by(
        ProcessorEvent.ts))
    for ts, value in rows:
        groups.setdefault(_python_bucket(ts + timedelta(hours=tz_hours), bucket), []).append(value)
    reduce = {"sum": sum, "max": max, "min": min, "count": len, "avg": lambda v: sum(v) / len(v)}[agg]
    return [(key, float(reduce(values))) for key, values in sorted(groups.items())]
