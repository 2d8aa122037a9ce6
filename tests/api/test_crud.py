"""CRUD of cameras and processors, and the events series, on both databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from server.models import ProcessorEvent
from tests.api.conftest import add_events

SQUARE = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]


def make_camera(client, **fields) -> dict:
    answer = client.post("/api/cameras", json={"stream_url": "http://127.0.0.1/a.m3u8", **fields})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_camera_lifecycle(client):
    created = make_camera(client, name="gate", watch_fps=2.5, watch_rows=2, watch_cols=3, tz=-3.5)
    assert created["id"] > 0
    assert created["watch_rows"] == 2 and created["tz"] == -3.5 and created["enabled"] is True
    assert client.get(f"/api/cameras/{created['id']}").get_json() == created
    assert [c["id"] for c in client.get("/api/cameras").get_json()] == [created["id"]]

    patched = client.patch(f"/api/cameras/{created['id']}", json={"enabled": False, "name": "north gate"})
    assert patched.status_code == 200
    assert patched.get_json() | {} == created | {"enabled": False, "name": "north gate"}

    assert client.delete(f"/api/cameras/{created['id']}").status_code == 200
    assert client.get(f"/api/cameras/{created['id']}").status_code == 404


def test_duplicate_stream_url_is_409(client):
    make_camera(client)
    answer = client.post("/api/cameras", json={"stream_url": "http://127.0.0.1/a.m3u8"})
    assert answer.status_code == 409
    assert "exists already" in answer.get_json()["msg"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "stream_url: Field required"),
        ({"stream_url": "   "}, "stream_url: Value error, must not be blank"),
        ({"stream_url": "u", "watch_fps": 0}, "watch_fps: Input should be greater than 0"),
        ({"stream_url": "u", "watch_fps": "2"}, "watch_fps: Input should be a valid number"),
        ({"stream_url": "u", "watch_rows": 9}, "watch_rows: Input should be less than or equal to 8"),
        ({"stream_url": "u", "enabled": 1}, "enabled: Input should be a valid boolean"),
        ({"stream_url": "u", "tz": 15}, "tz: Input should be less than or equal to 14"),
        ({"stream_url": "u", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_camera_is_400(client, fields, message):
    answer = client.post("/api/cameras", json=fields)
    assert answer.status_code == 400
    assert answer.get_json() == {"err": True, "msg": message}


def test_processor_lifecycle_for_every_type(client):
    camera = make_camera(client)
    for kind in ("traffic", "object", "face"):
        answer = client.post("/api/processors", json={
            "camera_id": camera["id"], "type": kind, "zones": [SQUARE], "threshold": 0.4, "anchor": "center"})
        assert answer.status_code == 201, answer.get_json()
        created = answer.get_json()
        assert created["type"] == kind and created["zones"] == [SQUARE] and created["classes"] == [0]
        assert client.get(f"/api/processors/{created['id']}").get_json() == created
        patched = client.patch(f"/api/processors/{created['id']}", json={"zones": [], "classes": [0, 2]})
        assert patched.get_json()["zones"] == [] and patched.get_json()["classes"] == [0, 2]
    listed = client.get(f"/api/processors?camera_id={camera['id']}").get_json()
    assert [p["type"] for p in listed] == ["traffic", "object", "face"]
    assert client.get(f"/api/cameras/{camera['id']}").get_json()["processors"] == [p["id"] for p in listed]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "dance"}, "unknown processor type 'dance'"),
        ({"zones": [[[0.1, 0.1], [0.2, 0.2]]]}, "zone 0 must have 3 to 200 points, has 2"),
        ({"zones": [SQUARE, [[0, 0], [1.5, 0], [1, 1]]]}, "zone 1: point [1.5, 0.0] is outside 0..1"),
        ({"zones": [SQUARE, [[0, 0, 0], [1, 0], [1, 1]]]}, "zones.1.0: List should have at most 2 items"),
        ({"zones": "0.1,0.1,0.9,0.9"}, "zones: Input should be a valid list"),
        ({"threshold": 1.5}, "threshold: Input should be less than or equal to 1"),
        ({"anchor": "top"}, "anchor: Input should be 'bottom_center' or 'center'"),
        ({"classes": [-1]}, "classes.0: Input should be greater than or equal to 0"),
        ({"camera_id": 999}, "No camera 999"),
    ],
)
def test_invalid_processor_is_400(client, fields, message):
    camera = make_camera(client)
    body = {"camera_id": camera["id"], "type": "traffic", **fields}
    answer = client.post("/api/processors", json=body)
    assert answer.status_code == 400
    assert message in answer.get_json()["msg"]


def test_processor_type_cannot_change(client):
    camera = make_camera(client)
    created = client.post("/api/processors", json={"camera_id": camera["id"], "type": "traffic"}).get_json()
    answer = client.patch(f"/api/processors/{created['id']}", json={"type": "object"})
    assert answer.status_code == 400
    assert "cannot be changed" in answer.get_json()["msg"]


def test_deleting_a_camera_deletes_its_processors_and_events(client, session):
    camera = make_camera(client)
    processor = client.post("/api/processors", json={"camera_id": camera["id"], "type": "traffic"}).get_json()
    add_events(session, processor["id"], [("2020-03-27 10:00:00", 1)])
    assert client.delete(f"/api/cameras/{camera['id']}").status_code == 200
    assert client.get(f"/api/processors/{processor['id']}").status_code == 404
    assert session.scalar(select(func.count()).select_from(ProcessorEvent)) == 0


def test_events_raw_and_bucketed_in_camera_local_time(client, session):
    camera = make_camera(client, tz=3)
    processor = client.post("/api/processors", json={"camera_id": camera["id"], "type": "traffic"}).get_json()
    # 20:30 and 21:10 UTC on the 26th are 23:30 on the 26th and 00:10 on the 27th at UTC+3.
    add_events(session, processor["id"], [
        ("2020-03-26 20:30:00", 2), ("2020-03-26 20:45:00", 3), ("2020-03-26 21:10:00", 4)])
    url = f"/api/processors/{processor['id']}/events"
    rng = {"start_ts": "2020-03-26 00:00:00", "stop_ts": "2020-03-28 00:00:00"}
    raw = client.get(url, query_string=rng).get_json()
    assert raw["events"] == [
        {"ts": "2020-03-26 23:30:00.000000", "value": 2},
        {"ts": "2020-03-26 23:45:00.000000", "value": 3},
        {"ts": "2020-03-27 00:10:00.000000", "value": 4},
    ]
    days = client.get(url, query_string={**rng, "bucket": "day"}).get_json()
    assert days["series"] == [{"ts": "2020-03-26 00:00:00", "value": 5.0}, {"ts": "2020-03-27 00:00:00", "value": 4.0}]
    hours = client.get(url, query_string={**rng, "bucket": "hour", "agg": "max"}).get_json()
    assert hours["series"] == [{"ts": "2020-03-26 23:00:00", "value": 3.0}, {"ts": "2020-03-27 00:00:00", "value": 4.0}]
    minutes = client.get(url, query_string={**rng, "bucket": "minute", "agg": "count"}).get_json()
    assert [point["ts"] for point in minutes["series"]] == [
        "2020-03-26 23:30:00", "2020-03-26 23:45:00", "2020-03-27 00:10:00"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"bucket": "week"}, "bucket must be one of minute, hour, day"),
        ({"bucket": "day", "agg": "median"}, "agg must be one of"),
        ({"limit": "0"}, "limit must be an integer from 1 to 10000"),
        ({"limit": "lots"}, "limit must be an integer"),
        ({"start_ts": "soon"}, "cannot read timestamp"),
        ({"start_ts": "2020-03-27 00:00:00", "stop_ts": "2020-03-26 00:00:00"}, "stop_ts is before start_ts"),
    ],
)
def test_invalid_events_query_is_400(client, query, message):
    camera = make_camera(client)
    processor = client.post("/api/processors", json={"camera_id": camera["id"], "type": "object"}).get_json()
    answer = client.get(f"/api/processors/{processor['id']}/events", query_string=query)
    assert answer.status_code == 400
    assert message in answer.get_json()["msg"]


@pytest.mark.parametrize("path", ["/api/cameras/77", "/api/processors/77", "/api/processors/77/events"])
def test_missing_objects_are_404(client, path):
    answer = client.get(path)
    assert answer.status_code == 404 and answer.get_json()["err"] is True


@pytest.mark.parametrize(("key", "text"), [
    ("start_ts", "0001-01-01T00:00:00+05:00"), ("stop_ts", "9999-12-31T23:59:59-05:00"),
    ("stop_ts", "0001-01-01T00:00:00+05:00"), ("start_ts", "0001-01-01 00:00:00"),
])
@pytest.mark.parametrize("bucket", [None, "hour"])
def test_events_timestamp_beyond_datetime_range_is_400(client, key, text, bucket):
    camera = make_camera(client, tz=3)
    processor = client.post("/api/processors", json={"camera_id": camera["id"], "type": "traffic"}).get_json()
    query = {key: text} | ({"bucket": bucket} if bucket else {})
    answer = client.get(f"/api/processors/{processor['id']}/events", query_string=query)
    assert answer.status_code == 400
    assert answer.get_json() == {"err": True, "msg": f"{key}: timestamp out of range"}


@pytest.mark.parametrize("bucket", [None, "day"])
def test_events_default_start_is_clamped_to_the_first_representable_time(client, session, bucket):
    """A stop in the first day of year 1: "the day before" starts before datetime.min, so it starts there."""
    camera = make_camera(client)
    processor = client.post("/api/processors", json={"camera_id": camera["id"], "type": "traffic"}).get_json()
    add_events(session, processor["id"], [("0001-01-01 03:00:00", 7), ("0001-01-01 13:00:00", 100)])
    query = {"stop_ts": "0001-01-01 12:00:00"} | ({"bucket": bucket} if bucket else {})
    answer = client.get(f"/api/processors/{processor['id']}/events", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [point["value"] for point in body["series" if bucket else "events"]] == [7]


@pytest.mark.parametrize(("value", "message"), [
    ("99999999999999999999", "camera_id is out of range"),
    ("2147483648", "camera_id is out of range"),
    ("-1", "camera_id is out of range"),
    ("abc", "camera_id must be an integer"),
    ("٣", "camera_id must be an integer"),
])
def test_processors_camera_id_filter_out_of_range_is_400(client, value, message):
    make_camera(client)
    answer = client.get("/api/processors", query_string={"camera_id": value})
    assert answer.status_code == 400
    assert answer.get_json() == {"err": True, "msg": message}


def test_processors_camera_id_filter_at_the_edges_of_the_range(client):
    camera = make_camera(client)
    created = client.post("/api/processors", json={"camera_id": camera["id"], "type": "traffic"}).get_json()
    assert client.get("/api/processors", query_string={"camera_id": "0"}).get_json() == []
    assert client.get("/api/processors", query_string={"camera_id": "2147483647"}).get_json() == []
    listed = client.get("/api/processors", query_string={"camera_id": f" {camera['id']} "}).get_json()
    assert [p["id"] for p in listed] == [created["id"]]


@pytest.mark.parametrize(("method", "fields", "field"), [
    ("post", {"name": "gate\x00"}, "name"),
    ("post", {"stream_url": "rtsp://10.0.0.5/\x00stream"}, "stream_url"),
    ("patch", {"name": "\x00"}, "name"),
    ("patch", {"stream_url": "http://127.0.0.1/b.m3u8\x00"}, "stream_url"),
])
def test_nul_in_a_camera_string_is_400_naming_the_field(client, method, fields, field):
    existing = make_camera(client)
    if method == "post":
        answer = client.post("/api/cameras", json={"stream_url": "http://127.0.0.1/new.m3u8", **fields})
    else:
        answer = client.patch(f"/api/cameras/{existing['id']}", json=fields)
    assert answer.status_code == 400
    assert answer.get_json() == {"err": True, "msg": f"{field}: Value error, must not contain NUL characters"}
    assert client.get("/api/cameras").get_json() == [existing]


@pytest.mark.parametrize(("fields", "field"), [({"type": "traffic\x00"}, "type"), ({"anchor": "center\x00"}, "anchor")])
def test_nul_in_a_processor_string_is_400_naming_the_field(client, fields, field):
    camera = make_camera(client)
    answer = client.post("/api/processors", json={"camera_id": camera["id"], "type": "traffic", **fields})
    assert answer.status_code == 400
    assert answer.get_json()["msg"].startswith(f"{field}: ")
    assert client.get("/api/processors").get_json() == []


def test_database_refusing_the_data_is_a_400(client, database_url, monkeypatch, caplog):
    """The safety net behind validation: PostgreSQL's DataError (here a NUL let through) is the client's 400."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite stores NUL characters; only PostgreSQL refuses them")
    from server.api import cameras

    monkeypatch.setattr(cameras, "validate", lambda model, data: model.model_construct(**data))
    with caplog.at_level("WARNING", logger="server.api.errors"):
        answer = client.post("/api/cameras", json={"name": "gate\x00", "stream_url": "http://127.0.0.1/n.m3u8"})
    assert answer.status_code == 400
    assert answer.get_json() == {"err": True, "msg": "The database refused a value of the request"}
    assert any(record.levelname == "WARNING" and "refused" in record.getMessage() for record in caplog.records)
    assert client.get("/api/cameras").get_json() == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
@pytest.mark.parametrize(("method", "path"), [("post", "/api/cameras"), ("patch", "/api/cameras/ID"),
                                              ("post", "/api/processors"), ("delete", "/api/cameras/ID")])
def test_api_writes_with_a_non_json_body_are_415(client, content_type, method, path):
    """A cross-site form or simple fetch (no CORS preflight) can send these types, but not application/json."""
    camera = make_camera(client)
    data = json.dumps({"stream_url": "http://127.0.0.1/csrf.m3u8", "camera_id": camera["id"], "type": "traffic",
                       "name": "pwned"})
    headers = {"Content-Type": content_type} if content_type else {}
    answer = getattr(client, method)(path.replace("ID", str(camera["id"])), data=data, headers=headers)
    assert answer.status_code == 415
    assert answer.get_json() == {"err": True, "msg": "Content-Type must be application/json"}
    assert client.get("/api/cameras").get_json() == [camera]
    assert client.get("/api/processors").get_json() == []


def test_api_writes_with_json_and_delete_without_body_still_work(client):
    created = client.post("/api/cameras", data=json.dumps({"stream_url": "http://127.0.0.1/j.m3u8"}),
                          content_type="application/json; charset=utf-8")
    assert created.status_code == 201
    camera_id = created.get_json()["id"]
    assert client.delete(f"/api/cameras/{camera_id}").status_code == 200
    # Without a body the write is refused for what it lacks, as before.
    assert client.post("/api/cameras").get_json() == {"err": True, "msg": "Request body must be a JSON object"}
