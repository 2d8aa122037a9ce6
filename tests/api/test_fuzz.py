"""Property: nothing a client sends to any endpoint yields a 5xx or a non-JSON answer.

Hypothesis throws arbitrary JSON documents, field-shaped documents with hostile
values, raw bytes and query strings at every route, on both databases.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.models import Camera, TrafficCounter

ROUTES = [
    ("post", "/traffic"), ("post", "/Traffic"), ("post", "/objects"), ("post", "/Objects"),
    ("get", "/statusWatch"), ("get", "/health"),
    ("get", "/api/cameras"), ("post", "/api/cameras"), ("get", "/api/cameras/1"),
    ("patch", "/api/cameras/1"), ("delete", "/api/cameras/2"),
    ("get", "/api/processors"), ("post", "/api/processors"), ("get", "/api/processors/1"),
    ("patch", "/api/processors/1"), ("delete", "/api/processors/2"),
    ("get", "/api/processors/1/events"), ("get", "/api/cameras/99999999999999999999"),
    ("patch", "/api/processors/99999999999999999999"),
]
FIELDS = ["proc_id", "start_ts", "stop_ts", "ts", "stream_url", "name", "watch_fps", "watch_rows",
          "watch_cols", "tz", "enabled", "camera_id", "type", "zones", "threshold", "anchor", "classes",
          "output_hls"]

# Values at the edges that random generation seldom hits: times whose UTC instant leaves datetime's range,
# integers past 32 and 64 bits (as numbers and as strings), NUL characters (PostgreSQL refuses them in text).
EDGE_TIMES = ["9999-12-31 23:59:59.999999", "0001-01-01 00:00:00", "0001-01-01T00:00:00+05:00",
              "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+14:00",
              "0001-01-01 12:00:00", "2020-03-27 00:00:00\x00"]
HUGE_INTS = [2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, -(2**31) - 1]
NUL_TEXTS = ["\x00", "gate\x00", "rtsp://10.0.0.5/\x00stream", "traffic\x00", "center\x00", "1\x00"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["2020-03-27 00:00:00.0", "2020-03-27T10:00:00+05:00", "traffic", "object", "face", "1", "-1",
                     "NaN", *EDGE_TIMES, *NUL_TEXTS, *(str(value) for value in HUGE_INTS)]),
    st.sampled_from(HUGE_INTS),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)
field_documents = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
bodies = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    field_documents.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
)
queries = st.dictionaries(st.sampled_from(["start_ts", "stop_ts", "bucket", "agg", "limit", "camera_id"]),
                          st.one_of(st.text(max_size=30), st.sampled_from(["day", "sum", "5", "-3"]),
                                    st.sampled_from([*EDGE_TIMES, *NUL_TEXTS, *(str(v) for v in HUGE_INTS)])),
                          max_size=4)


@pytest.fixture()
def seeded_client(app, session):
    camera = Camera(stream_url="http://127.0.0.1/fuzz.m3u8")
    camera.processors = [TrafficCounter(), TrafficCounter()]
    session.add(camera)
    session.add(Camera(stream_url="http://127.0.0.1/fuzz2.m3u8"))
    session.commit()
    return app.test_client()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=bodies, query=queries,
       content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
def test_no_request_yields_a_server_error(seeded_client, route, body, query, content_type):
    method, path = route
    answer = getattr(seeded_client, method)(path, data=body, query_string=query, content_type=content_type)
    assert answer.status_code < 500, (answer.status_code, answer.get_data()[:300])
    assert answer.is_json, answer.get_data()[:300]
    payload = answer.get_json()
    if answer.status_code >= 400:
        assert payload["err"] is True and isinstance(payload["msg"], str) and payload["msg"]


# Well-formed requests (against seeded_client's rows): one field at a time gets an edge value, so that the
# value reaches the parsing, the arithmetic and the database behind the validation of the request's shape.
WELL_FORMED = {
    ("post", "/traffic"): {"proc_id": 1, "start_ts": "2020-03-27 00:00:00", "stop_ts": "2020-03-28 00:00:00"},
    ("post", "/objects"): {"proc_id": 1, "ts": "2020-03-27 00:00:00"},
    ("post", "/api/cameras"): {"stream_url": "http://127.0.0.1/new.m3u8", "name": "new", "watch_rows": 2},
    ("patch", "/api/cameras/1"): {"stream_url": "http://127.0.0.1/moved.m3u8", "name": "moved", "watch_cols": 2},
    ("post", "/api/processors"): {"camera_id": 1, "type": "traffic", "anchor": "center", "classes": [0]},
    ("patch", "/api/processors/1"): {"camera_id": 1, "anchor": "center", "classes": [0, 2]},
    ("get", "/api/processors/1/events"): {"start_ts": "2020-03-27 00:00:00", "stop_ts": "2020-03-28 00:00:00",
                                          "limit": "10", "bucket": "hour"},
    ("get", "/api/processors"): {"camera_id": "1"},
}
EDGE_VALUES = [*EDGE_TIMES, *NUL_TEXTS, *HUGE_INTS, *(str(value) for value in HUGE_INTS)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_edge_value_in_a_well_formed_request_is_no_server_error(seeded_client, data):
    method, path = route = data.draw(st.sampled_from(sorted(WELL_FORMED)))
    fields = WELL_FORMED[route]
    field = data.draw(st.sampled_from(sorted(fields)))
    kept = data.draw(st.sets(st.sampled_from(sorted(fields))))  # others may be left out, to use defaults
    request = {key: value for key, value in fields.items() if key in kept} | {field: data.draw(
        st.sampled_from(EDGE_VALUES))}
    if method == "get":
        answer = seeded_client.get(path, query_string={key: str(value) for key, value in request.items()})
    else:
        answer = getattr(seeded_client, method)(path, json=request)
    assert answer.status_code < 500, (request, answer.status_code, answer.get_data()[:300])
    assert answer.is_json, answer.get_data()[:300]
    if answer.status_code >= 400:
        assert answer.get_json()["err"] is True and answer.get_json()["msg"]
