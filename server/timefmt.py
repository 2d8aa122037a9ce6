"""Camera-local timestamps in and out of the API; the database stores naive UTC.

Clients of the original system send and read ``"%Y-%m-%d %H:%M:%S.%f"`` in the
camera's local time (UTC + camera.tz hours). ISO 8601 with an offset is also
accepted and means what it says.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_NAIVE_FORMATS = (LOCAL_FORMAT, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S")


class TimestampError(ValueError):
    """A timestamp the API cannot read; the message shows the accepted forms."""


def parse_camera_time(text: str, tz_hours: float) -> datetime:
    """Parse a client timestamp into naive UTC.

    Examples:
        >>> parse_camera_time("2020-03-27 14:00:00.0", 3)
        datetime.datetime(2020, 3, 27, 11, 0)
        >>> parse_camera_time("2020-03-27T14:00:00+01:00", 3)
        datetime.datetime(2020, 3, 27, 13, 0)
    """
    if not isinstance(text, str) or not text.strip():
        raise TimestampError("timestamp must be a non-empty string")
    text = text.strip()
    for fmt in _NAIVE_FORMATS:
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return _local_to_utc(local, tz_hours)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TimestampError(
            f"cannot read timestamp {text[:64]!r}: expected 'YYYY-MM-DD HH:MM:SS.ffffff' in the camera's "
            "local time, or ISO 8601 with an offset"
        ) from None
    if parsed.tzinfo is None:
        return _local_to_utc(parsed, tz_hours)
    try:
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        # e.g. "0001-01-01T00:00:00+05:00": its UTC instant is before datetime.min.
        raise TimestampError("timestamp out of range") from None


def _local_to_utc(local: datetime, tz_hours: float) -> datetime:
    """Local time minus the camera's offset; near year 1 or 9999 the UTC instant may not exist."""
    try:
        return local - timedelta(hours=tz_hours)
    except OverflowError:
        raise TimestampError("timestamp out of range") from None


def format_camera_time(utc: datetime, tz_hours: float) -> str:
    """Naive UTC from the database as the camera-local string the original clients read.

    isoformat, not strftime: glibc's %Y does not pad years before 1000 ("1-01-01"),
    which the API's own parser could not read back.
    """
    try:
        local = utc + timedelta(hours=tz_hours)
    except OverflowError:  # within the camera's offset of year 1 or 9999: show the UTC time
        local = utc
    return local.isoformat(sep=" ", timespec="microseconds")


def utc_now() -> datetime:
    """Now, naive UTC, as stored."""
    return datetime.now(UTC).replace(tzinfo=None)
