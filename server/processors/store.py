"""Writing a processor's events: the only thing processors persist."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session

from server.models import ProcessorEvent
from server.processors.base import Event
from server.processors.frames import to_naive_utc

log = logging.getLogger(__name__)


def store_events(session: Session, processor_id: int, events: Sequence[Event]) -> int:
    """Insert a batch of ``(ts, value)`` events in one transaction and commit it.

    All or nothing: a batch is one segment's worth of a processor's events, and a
    half-written batch would leave the traffic sum or the objects step function
    wrong. Time stamps are stored as naive UTC (aware ones are converted). Returns
    how many rows were written.
    """
    if not events:
        return 0
    rows = [{"processor_id": processor_id, "ts": to_naive_utc(ts), "value": int(value)} for ts, value in events]
    try:
        session.execute(insert(ProcessorEvent), rows)
        session.commit()
    except Exception:
        session.rollback()
        raise
    log.debug("processor %s: stored %d events", processor_id, len(rows))
    return len(rows)
