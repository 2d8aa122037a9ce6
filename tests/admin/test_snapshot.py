"""One frame of a real stream with ffmpeg, its size remembered for the offline zone editor."""

from __future__ import annotations

import pytest

from detector_client.jpeg import jpeg_size
from server.models import Camera
from server.snapshot import SIZE_KEY, SnapshotError, ffmpeg_command, grab_frame, last_size
from tests.admin.conftest import STREAM_SIZE
from tests.support.servers import free_port


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (bytes.fromhex("ffd8ffc0000b08007800a0"), (160, 120)),
        # An APP0 segment before the frame header, then a progressive (SOF2) header.
        (bytes.fromhex("ffd8ffe000044a46ffc2000b0802d00500"), (1280, 720)),
        (bytes.fromhex("ffd8ffffc0000b08000100020000"), (2, 1)),  # a fill byte before the marker
        (b"GIF89a", ValueError),
        (bytes.fromhex("ffd8ffe00004"), ValueError),
    ],
)
def test_jpeg_size(data, expected):
    if expected is ValueError:
        with pytest.raises(ValueError):
            jpeg_size(data)
    else:
        assert jpeg_size(data) == expected


@pytest.mark.parametrize(
    ("url", "present", "absent"),
    [
        ("rtsp://10.0.0.5/s1", ["-rtsp_transport", "tcp", "-timeout", "5000000"], ["-rw_timeout"]),
        ("http://cam/live.m3u8", ["-rw_timeout", "5000000"], ["-rtsp_transport"]),
        ("/srv/video.mp4", [], ["-rw_timeout", "-rtsp_transport"]),
        ("0", ["-f", "v4l2", "-i", "/dev/video0"], ["-rw_timeout"]),
    ],
)
def test_ffmpeg_command(url, present, absent):
    command = ffmpeg_command(url, 5)
    text = " ".join(command)
    assert " ".join(present) in text
    assert not any(option in command for option in absent)
    assert command[-7:] == ["-f", "image2pipe", "-vcodec", "mjpeg", "-q:v", "3", "pipe:1"]


@pytest.mark.parametrize("name", ["stream.m3u8", "clip.mp4"])
def test_grab_frame_from_hls_and_files(test_stream, name):
    source = test_stream.url(name) if name.endswith("m3u8") else str(test_stream.folder / name)
    jpeg = grab_frame(source, timeout_s=10)
    assert jpeg_size(jpeg) == STREAM_SIZE


def test_grab_frame_says_why_there_is_none():
    with pytest.raises(SnapshotError, match=r"(?i)connection refused|error|failed"):
        grab_frame(f"http://127.0.0.1:{free_port()}/gone.m3u8", timeout_s=3)


def test_frame_endpoint_serves_jpeg_then_falls_back_to_the_last_size(client, session, redis_client, test_stream):
    camera = Camera(name="test", stream_url=test_stream.url("stream.m3u8"))
    never_seen = Camera(name="dark", stream_url=f"http://127.0.0.1:{free_port()}/dark.m3u8")
    session.add_all([camera, never_seen])
    session.commit()
    answer = client.get(f"/admin/camera/frame/{camera.id}")
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    assert jpeg_size(answer.data) == STREAM_SIZE
    assert redis_client.get(SIZE_KEY.format(camera_id=camera.id)) == "320x180"
    assert last_size(redis_client, camera.id) == STREAM_SIZE

    camera.stream_url = f"http://127.0.0.1:{free_port()}/went-offline.m3u8"
    session.commit()
    offline = client.get(f"/admin/camera/frame/{camera.id}")
    assert offline.status_code == 502
    assert offline.get_json() | {"msg": ""} == {"err": True, "msg": "", "width": 320, "height": 180,
                                                "size_known": True}
    dark = client.get(f"/admin/camera/frame/{never_seen.id}").get_json()
    assert (dark["width"], dark["height"], dark["size_known"]) == (1280, 720, False)
    assert client.get("/admin/camera/frame/999").status_code == 404


def test_test_connection_page_shows_the_frame_or_the_reason(client, session, test_stream):
    good = Camera(name="test", stream_url=test_stream.url("stream.m3u8"))
    bad = Camera(name="dark", stream_url=f"http://127.0.0.1:{free_port()}/dark.m3u8")
    session.add_all([good, bad])
    session.commit()
    page = client.get(f"/admin/camera/test/?id={good.id}").get_data(as_text=True)
    assert "Connected: one frame read, 320&times;180 pixels." in page
    assert 'src="data:image/jpeg;base64,/9j/' in page
    assert "No frame from the camera:" in client.get(f"/admin/camera/test/?id={bad.id}").get_data(as_text=True)
