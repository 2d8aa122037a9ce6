"""The ffmpeg segmenter's own decisions, with real ffprobe and ffmpeg."""

from __future__ import annotations

import subprocess

from server.watcher.segmenter import FfmpegSegmenter, input_args
from tests.support.servers import free_port
from tests.support.streams import walker_source
from tests.support.waiting import wait_until


def test_codec_unknown_at_start_is_probed_again(tmp_path):
    """A source unreachable at the first start must not be transcoded for the watcher's whole life."""
    video = tmp_path / "camera.mp4"
    segmenter = FfmpegSegmenter(str(video), tmp_path / "out")
    assert "libx264" in segmenter.command()  # nothing to probe yet: transcode, to be safe
    subprocess.run(["ffmpeg", "-v", "error", *walker_source(), "-t", "1", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p", str(video)], check=True)
    command = segmenter.command()
    assert command[command.index("-c:v") + 1] == "copy"


def test_ffprobe_gets_the_protocol_options_but_not_the_pacing():
    protocol, pacing, source = input_args("rtsp://cam.example/stream")
    assert protocol[:2] == ["-rtsp_transport", "tcp"] and pacing == [] and source == "rtsp://cam.example/stream"
    protocol, pacing, source = input_args("/videos/lobby.mp4")
    assert protocol == [] and "-re" in pacing and source == "/videos/lobby.mp4"


def test_dead_ffmpeg_leaves_no_stale_playlist(tmp_path):
    segmenter = FfmpegSegmenter(f"http://127.0.0.1:{free_port()}/down.ts", tmp_path / "out")
    try:
        segmenter.ensure_running()
        segmenter.playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")  # as a dead ffmpeg leaves it
        wait_until(lambda: segmenter.process.poll() is not None, timeout_s=20)
        segmenter.ensure_running()
        assert not segmenter.playlist.exists()
    finally:
        segmenter.stop()
