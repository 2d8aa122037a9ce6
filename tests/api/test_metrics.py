"""POST /traffic and /objects: the original clients' requests and response shapes, on both databases."""

from __future__ import annotations

import pytest

from tests.api.conftest import add_events


def test_original_traffic_example(client, session, camera_with_processors):
    _, traffic, _ = camera_with_processors()
    add_events(session, traffic.id, [("2020-03-27 10:00:00", 2), ("2020-03-27 11:30:00.133333", 3)])
    answer = client.post("/traffic", json={"proc_id": traffic.id, "start_ts": "2020-03-27 00:00:00.0"})
    assert answer.status_code == 200
    assert answer.get_json() == {
        "err": False,
        "traffic": 5,
        "min_ts": "2020-03-27 10:00:00.000000",
        "max_ts": "2020-03-27 11:30:00.133333",
    }


def test_traffic_interval_is_start_exclusive_stop_inclusive(client, session, camera_with_processors):
    _, traffic, _ = camera_with_processors()
    add_events(session, traffic.id, [
        ("2020-03-27 10:00:00", 1),
        ("2020-03-27 10:00:00.000001", 10),
        ("2020-03-27 11:00:00", 100),
        ("2020-03-27 11:00:00.000001", 1000),
    ])
    answer = client.post("/traffic", json={
        "proc_id": traffic.id, "start_ts": "2020-03-27 10:00:00.000000", "stop_ts": "2020-03-27 11:00:00.0"})
    body = answer.get_json()
    assert body["traffic"] == 110
    assert body["min_ts"] == "2020-03-27 10:00:00.000001"
    assert body["max_ts"] == "2020-03-27 11:00:00.000000"


def test_consecutive_intervals_add_up(client, session, camera_with_processors):
    _, traffic, _ = camera_with_processors()
    add_events(session, traffic.id, [(f"2020-03-27 10:{m:02d}:00", 1) for m in range(0, 60, 5)])

    def total(start: str, stop: str) -> int:
        body = client.post("/traffic", json={"proc_id": traffic.id, "start_ts": start, "stop_ts": stop}).get_json()
        return body.get("traffic", 0)

    whole = total("2020-03-27 09:00:00", "2020-03-27 11:00:00")
    parts = total("2020-03-27 09:00:00", "2020-03-27 10:30:00") + total("2020-03-27 10:30:00", "2020-03-27 11:00:00")
    assert whole == parts == 12


@pytest.mark.parametrize(
    ("tz", "start", "stop", "expected", "min_ts"),
    [
        # The event is at 10:00 UTC: 13:00 for a camera at UTC+3, 05:00 at UTC-5, 15:30 at UTC+5.5.
        (3, "2020-03-27 12:59:59.999999", "2020-03-27 13:00:00.0", 7, "2020-03-27 13:00:00.000000"),
        (3, "2020-03-27 13:00:00.0", "2020-03-27 14:00:00.0", None, None),
        (-5, "2020-03-27 04:00:00.0", "2020-03-27 05:00:00.0", 7, "2020-03-27 05:00:00.000000"),
        (5.5, "2020-03-27 15:00:00.0", "2020-03-27 15:30:00.0", 7, "2020-03-27 15:30:00.000000"),
        # ISO 8601 with an offset means what it says, whatever the camera's tz.
        (3, "2020-03-27T09:59:00+00:00", "2020-03-27T11:00:00+01:00", 7, "2020-03-27 13:00:00.000000"),
        (3, "2020-03-27T10:00:00Z", "2020-03-27T12:00:00Z", None, None),
    ],
)
def test_traffic_in_camera_local_time(client, session, camera_with_processors, tz, start, stop, expected, min_ts):
    _, traffic, _ = camera_with_processors(tz=tz)
    add_events(session, traffic.id, [("2020-03-27 10:00:00", 7)])
    body = client.post("/traffic", json={"proc_id": traffic.id, "start_ts": start, "stop_ts": stop}).get_json()
    if expected is None:
        assert body == {"err": True, "msg": "No records found"}
    else:
        assert body["traffic"] == expected
        assert body["min_ts"] == body["max_ts"] == min_ts


def test_traffic_stop_defaults_to_now(client, session, camera_with_processors):
    _, traffic, _ = camera_with_processors()
    add_events(session, traffic.id, [("2020-03-27 10:00:00", 4), ("2999-01-01 00:00:00", 50)])
    body = client.post("/traffic", json={"proc_id": traffic.id, "start_ts": "2020-01-01 00:00:00"}).get_json()
    assert body["traffic"] == 4


def test_objects_latest_event_at_or_before(client, session, camera_with_processors):
    _, _, objects = camera_with_processors(tz=2)
    add_events(session, objects.id, [
        ("2020-03-27 10:00:00", 3), ("2020-03-27 10:00:05", 5), ("2020-03-27 10:00:09", 0)])
    ask = lambda ts: client.post("/objects", json={"proc_id": objects.id, "ts": ts}).get_json()  # noqa: E731
    assert ask("2020-03-27 12:00:05.0") == {"err": False, "count": 5, "ts": "2020-03-27 12:00:05.000000"}
    assert ask("2020-03-27 12:00:04.999999")["count"] == 3
    assert ask("2020-03-27 12:00:10")["count"] == 0
    assert ask("2020-03-27 11:59:59.999999") == {"err": True, "msg": "No records found"}
    assert ask("2020-03-27T10:00:05Z")["count"] == 5


def test_objects_ts_defaults_to_now(client, session, camera_with_processors):
    _, _, objects = camera_with_processors()
    add_events(session, objects.id, [("2020-03-27 10:00:00", 3), ("2999-01-01 00:00:00", 9)])
    assert client.post("/Objects", json={"proc_id": objects.id}).get_json()["count"] == 3


@pytest.mark.parametrize("path", ["/traffic", "/Traffic", "/objects", "/Objects"])
def test_wrong_processor_id(client, path):
    answer = client.post(path, json={"proc_id": 4, "start_ts": "2020-03-27 00:00:00.0", "ts": "2020-03-27 00:00:00"})
    assert answer.status_code == 404
    assert answer.get_json() == {"err": True, "msg": "Wrong processor id"}


def test_proc_id_as_numeric_string_is_accepted(client, session, camera_with_processors):
    _, traffic, _ = camera_with_processors()
    add_events(session, traffic.id, [("2020-03-27 10:00:00", 2)])
    body = client.post("/traffic", json={"proc_id": str(traffic.id), "start_ts": "2020-03-27 00:00:00"}).get_json()
    assert body["traffic"] == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"start_ts": "2020-03-27 00:00:00"}, "Missing field proc_id"),
        ({"proc_id": True, "start_ts": "2020-03-27 00:00:00"}, "proc_id must be an integer"),
        ({"proc_id": [1], "start_ts": "2020-03-27 00:00:00"}, "proc_id must be an integer"),
        ({"proc_id": "PROC"}, "Missing field start_ts"),
        ({"proc_id": "PROC", "start_ts": 12}, "start_ts must be a string"),
        ({"proc_id": "PROC", "start_ts": "yesterday"}, "start_ts: cannot read timestamp"),
        ({"proc_id": "PROC", "start_ts": "2020-02-30 00:00:00"}, "start_ts: cannot read timestamp"),
        ({"proc_id": "PROC", "start_ts": "2020-03-27 00:00:00", "stop_ts": "2020-03-26 00:00:00"},
         "stop_ts is before start_ts"),
        # 00:00 local at UTC+3 on 1 January of year 1 is before the first representable instant.
        ({"proc_id": "PROC", "start_ts": "0001-01-01 00:00:00"}, "start_ts: timestamp out of range"),
    ],
)
def test_malformed_traffic_requests_are_400(client, camera_with_processors, body, message):
    _, traffic, _ = camera_with_processors(tz=3)
    body = {key: (traffic.id if value == "PROC" else value) for key, value in body.items()}
    answer = client.post("/traffic", json=body)
    assert answer.status_code == 400
    assert answer.get_json()["err"] is True
    assert answer.get_json()["msg"].startswith(message)


@pytest.mark.parametrize("data", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"{"])
def test_body_that_is_not_a_json_object_is_400(client, data):
    answer = client.post("/traffic", data=data, content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json() == {"err": True, "msg": "Request body must be a JSON object"}


def test_json_without_content_type_is_accepted(client, session, camera_with_processors):
    """Some original clients post JSON as text/plain."""
    _, traffic, _ = camera_with_processors()
    add_events(session, traffic.id, [("2020-03-27 10:00:00", 2)])
    data = f'{{"proc_id": {traffic.id}, "start_ts": "2020-03-27 00:00:00.0"}}'
    assert client.post("/traffic", data=data, content_type="text/plain").get_json()["traffic"] == 2


@pytest.mark.parametrize(("path", "key"), [("/traffic", "start_ts"), ("/traffic", "stop_ts"), ("/Traffic", "stop_ts"),
                                           ("/objects", "ts"), ("/Objects", "ts")])
@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_timestamp_with_offset_beyond_datetime_range_is_400(client, camera_with_processors, path, key, text):
    """Converting such a time to UTC leaves datetime's range: a bad timestamp like any other, not a 500."""
    _, traffic, _ = camera_with_processors()
    body = {"proc_id": traffic.id, "start_ts": "2020-03-27 00:00:00", key: text}
    answer = client.post(path, json=body)
    assert answer.status_code == 400
    assert answer.get_json() == {"err": True, "msg": f"{key}: timestamp out of range"}
