"""store_events on SQLite and PostgreSQL: one transaction per batch, naive UTC time stamps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.db import make_engine, make_sessionmaker
from server.models import Base, Camera, ProcessorEvent, TrafficCounter
from server.processors import ProcessorSettings, create_runtime, store_events
from tests.processors.scenes import BAND, SCENES


@pytest.fixture()
def sessions(database_url: str):
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture()
def processor_id(sessions) -> int:
    with sessions() as session:
        camera = Camera(name="plaza", stream_url="rtsp://camera.invalid/1")
        processor = TrafficCounter(camera=camera, zones=[BAND])
        session.add_all([camera, processor])
        session.commit()
        return processor.id


def stored(sessions, processor_id: int) -> list[tuple[datetime, int]]:
    with sessions() as session:
        rows = session.scalars(
            select(ProcessorEvent).where(ProcessorEvent.processor_id == processor_id).order_by(ProcessorEvent.ts)
        )
        return [(row.ts, row.value) for row in rows]


def test_events_are_stored_as_naive_utc_with_microseconds(sessions, processor_id) -> None:
    plus_two = timezone(timedelta(hours=2))
    events = [(datetime(2024, 5, 6, 12, 0, 0, 123456), 1), (datetime(2024, 5, 6, 14, 0, 1, 5, tzinfo=plus_two), 3)]
    with sessions() as session:
        assert store_events(session, processor_id, events) == 2
    assert stored(sessions, processor_id) == [(datetime(2024, 5, 6, 12, 0, 0, 123456), 1),
                                              (datetime(2024, 5, 6, 12, 0, 1, 5), 3)]


def test_no_events_write_nothing(sessions, processor_id) -> None:
    with sessions() as session:
        assert store_events(session, processor_id, []) == 0
    assert stored(sessions, processor_id) == []


def test_a_failing_batch_writes_none_of_its_events(sessions, processor_id) -> None:
    """Events of a processor that was deleted meanwhile: the foreign key refuses the whole batch."""
    events = [(datetime(2024, 5, 6, 12, 0, k), k) for k in range(3)]
    with sessions() as session, pytest.raises(IntegrityError):
        store_events(session, processor_id + 1000, events)
    with sessions() as session:
        assert session.scalars(select(ProcessorEvent)).all() == []
        # The session is usable again after the rollback.
        assert store_events(session, processor_id, events) == 3


def test_a_runtime_built_from_the_stored_row_writes_its_counts(sessions, processor_id) -> None:
    with sessions() as session:
        row = session.get(TrafficCounter, processor_id)
        runtime = create_runtime(ProcessorSettings.from_model(row))
    scene = next(s for s in SCENES if s.name == "two_zones")
    runtime.update_settings(ProcessorSettings(id=processor_id, camera_id=runtime.settings.camera_id,
                                              type="traffic", zones=scene.zones))
    frames = scene.frames(5)
    with sessions() as session:
        for start in range(0, len(frames), 10):
            store_events(session, processor_id, runtime.process(frames[start : start + 10]))
    assert sum(value for _, value in stored(sessions, processor_id)) == scene.traffic
