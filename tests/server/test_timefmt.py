"""Camera-local timestamps: what the API writes, it can read back, across datetime's whole range."""

from __future__ import annotations

from datetime import datetime

import pytest

from server.timefmt import format_camera_time, parse_camera_time


@pytest.mark.parametrize("utc", [datetime(1, 1, 1, 0, 0, 0), datetime(999, 5, 6, 7, 8, 9, 10),
                                 datetime(2026, 11, 23, 13, 45, 0, 123456), datetime(9999, 12, 31, 12, 0)])
@pytest.mark.parametrize("tz", [0, 3, -5.5])
def test_formatted_time_reads_back(utc, tz):
    text = format_camera_time(utc, tz)
    assert len(text) == len("2026-11-23 13:45:00.123456")
    if (utc.year, tz) == (1, -5.5):
        return  # the local time does not exist in datetime's range; shown as UTC
    assert parse_camera_time(text, tz) == utc
