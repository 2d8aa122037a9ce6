"""The ``videos`` blueprint serving a real preview written by ffmpeg, over Flask's test client."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.api.videos import bp
from server.preview import PreviewWriter
from tests.preview.previewkit import TEST_OPTIONS, feed, moving_frames, playlist_segments


@pytest.fixture()
def client(preview_dir: Path, t0: datetime) -> FlaskClient:
    """A minimal app with only this blueprint, over a preview of processor 1 and a file outside it."""
    writer = PreviewWriter(1, preview_dir, TEST_OPTIONS)
    feed(writer, moving_frames(8), t0)
    writer.close()
    (preview_dir / "secret.m3u8").write_text("#EXTM3U\n# not a preview of any processor\n")
    (preview_dir.parent / "outside.ts").write_bytes(b"not served")
    app = Flask(__name__)
    app.config.update(TESTING=True, PROCESSORS_PREVIEW_DIR=str(preview_dir))
    app.register_blueprint(bp)
    return app.test_client()


def test_playlist_is_served_uncached_with_the_hls_type(client: FlaskClient) -> None:
    response = client.get("/videos/1/index.m3u8")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.apple.mpegurl"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.get_data(as_text=True).startswith("#EXTM3U")


def test_segments_listed_in_the_playlist_are_served_as_mpeg_ts(client: FlaskClient, preview_dir: Path) -> None:
    segments = playlist_segments(preview_dir / "1" / "index.m3u8")
    assert segments
    for name in segments:
        response = client.get(f"/videos/1/{name}")
        assert response.status_code == 200
        assert response.mimetype == "video/mp2t"
        assert response.get_data() == (preview_dir / "1" / name).read_bytes()
        assert response.get_data()[:1] == b"\x47"  # the MPEG-TS sync byte


@pytest.mark.parametrize(
    "url",
    [
        "/videos/2/index.m3u8",  # a processor without a preview
        "/videos/1/missing.m3u8",
        "/videos/1/seg0.ts",
        "/videos/1/index.m3u8.tmp",  # half-written files and other types are never served
        "/videos/1/../secret.m3u8",
        "/videos/1/..%2Fsecret.m3u8",
        "/videos/1/%2e%2e/secret.m3u8",
        "/videos/1/../../outside.ts",
        "/videos/1/%2e%2e/%2e%2e/outside.ts",
        "/videos/1//etc/passwd.ts",  # Flask merges the slashes (308), then nothing is there
        "/videos/1/..\\secret.m3u8",
        "/videos/1/%2Fetc%2Fpasswd.ts",
    ],
)
def test_absent_files_and_traversal_attempts_get_a_json_404(client: FlaskClient, url: str) -> None:
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 404
    assert response.get_json() == {"err": True, "msg": "No such preview file"}


@pytest.mark.parametrize("url", ["/videos/-1/index.m3u8", "/videos/x/index.m3u8", "/videos/1/"])
def test_urls_outside_the_route_are_not_found(client: FlaskClient, url: str) -> None:
    # The app's error handlers (server.api.errors) turn this 404 into JSON; this bare app has none.
    assert client.get(url).status_code == 404
