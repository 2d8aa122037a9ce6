"""API fixtures: a camera with processors, and events inserted straight into the table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from server.models import Camera, ObjectsCounter, ProcessorEvent, TrafficCounter


@pytest.fixture()
def camera_with_processors(session: Session) -> Callable[..., tuple[Camera, TrafficCounter, ObjectsCounter]]:
    """A camera (tz hours from UTC) with a traffic and an objects processor, no events."""

    def make(tz: float = 0.0, url: str = "http://127.0.0.1/cam.m3u8"):
        camera = Camera(name="plaza", stream_url=url, tz=tz)
        traffic = TrafficCounter()
        objects = ObjectsCounter()
        camera.processors = [traffic, objects]
        session.add(camera)
        session.commit()
        return camera, traffic, objects

    return make


def add_events(session: Session, processor_id: int, rows: list[tuple[str, int]]) -> None:
    """Insert events straight into processor_event; timestamps are naive UTC strings."""
    for ts, value in rows:
        session.add(ProcessorEvent(processor_id=processor_id, ts=datetime.fromisoformat(ts), value=value))
    session.commit()
