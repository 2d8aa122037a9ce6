"""Logging set-up shared by every process: one format, level from the configuration.

Processes log to stderr, which systemd's journal collects, indexes and rotates
(``SystemMaxUse=`` in journald.conf bounds it). ``LOG_FORMAT = "json"`` writes one
JSON object a line, with the camera id as its own field on every watcher line,
for log shippers.
"""

from __future__ import annotations

import json
import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line; ``camera_id`` and other ``extra`` fields kept as fields."""

    FIELDS = ("camera_id", "processor_id")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        entry.update({field: getattr(record, field) for field in self.FIELDS if hasattr(record, field)})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr in the configured format (idempotent: a process may build several apps)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_hypersight", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._hypersight = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT))
    root.setLevel(level)
    # Alembic announces every plugin at INFO; only its warnings matter to an operator.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
