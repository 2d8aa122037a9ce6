"""PreviewWriter and PreviewManager against a real ffmpeg: playlists checked with ffprobe."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from server.preview import FrameFormat, PreviewManager, PreviewOptions, PreviewWriter, hls_command
from tests.preview.previewkit import (
    FPS,
    TEST_OPTIONS,
    decode_errors,
    feed,
    ffmpeg_children,
    moving_frames,
    playlist_segments,
    probe_streams,
    wait_for,
)


def test_ten_seconds_make_a_playable_bounded_playlist(preview_dir: Path, t0: datetime) -> None:
    writer = PreviewWriter(7, preview_dir, TEST_OPTIONS)
    assert feed(writer, moving_frames(20), t0) == 20  # 10 s at 2 fps
    wait_for(lambda: len(playlist_segments(preview_dir / "7" / "index.m3u8")) >= 2, what="first segments")
    assert feed(writer, moving_frames(20, start=20), t0, first_index=20) == 20  # 10 s more
    writer.close()

    playlist = preview_dir / "7" / "index.m3u8"
    text = playlist.read_text()
    segments = playlist_segments(playlist)
    assert len(segments) == TEST_OPTIONS.list_size
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == len(segments)
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    # 20 s make 10 segments of 2 s; ffmpeg keeps the listed ones and one older.
    on_disk = sorted(p.name for p in playlist.parent.glob("*.ts"))
    assert set(segments) <= set(on_disk)
    assert len(on_disk) <= TEST_OPTIONS.list_size + 1
    (stream,) = probe_streams(playlist)
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 240)
    assert stream["r_frame_rate"] == f"{FPS}/1"
    assert decode_errors(playlist) == ""
    assert writer.dropped == 0 and writer.restarts == 0
    assert ffmpeg_children() == []


def test_killed_ffmpeg_is_restarted_and_the_playlist_continues(preview_dir: Path, t0: datetime) -> None:
    writer = PreviewWriter(3, preview_dir, TEST_OPTIONS)
    playlist = preview_dir / "3" / "index.m3u8"
    feed(writer, moving_frames(12), t0)
    wait_for(lambda: len(playlist_segments(playlist)) >= 2, what="segments before the kill")
    first_pid = writer.pid
    assert first_pid is not None
    before = playlist_segments(playlist)

    os.kill(first_pid, signal.SIGKILL)
    # Two segments after the restart: the discontinuity is still in the 3-entry list.
    feed(writer, moving_frames(8, start=12), t0, first_index=12)
    wait_for(lambda: writer.pid not in (None, first_pid), what="a new ffmpeg")
    writer.close()

    assert writer.restarts == 1 and not writer.failed
    after = playlist_segments(playlist)
    assert "#EXT-X-DISCONTINUITY" in playlist.read_text()
    # Numbering continues after the segments the killed ffmpeg had listed.
    assert max(_number(name) for name in after) > max(_number(name) for name in before)
    assert not list(playlist.parent.glob("*.tmp"))
    assert decode_errors(playlist) == ""
    assert ffmpeg_children() == []


def test_new_frame_size_restarts_ffmpeg_with_that_size(preview_dir: Path, t0: datetime) -> None:
    writer = PreviewWriter(4, preview_dir, TEST_OPTIONS)
    # Two segments of each size, so that the 3-entry playlist holds both.
    feed(writer, moving_frames(8, 320, 240), t0)
    # An odd size is trimmed to the even size H.264 4:2:0 needs.
    feed(writer, moving_frames(8, 161, 121, start=8), t0, first_index=8)
    writer.close()

    playlist = preview_dir / "4" / "index.m3u8"
    segments = playlist_segments(playlist)
    sizes = [(s["width"], s["height"]) for name in segments for s in probe_streams(playlist.parent / name)]
    assert sizes[-1] == (160, 120)
    assert (320, 240) in sizes
    assert "#EXT-X-DISCONTINUITY" in playlist.read_text()
    assert writer.restarts == 0  # planned restarts do not count against the brake
    assert decode_errors(playlist) == ""


def test_a_gap_in_frame_times_restarts_ffmpeg_to_resync_the_date_times(
    preview_dir: Path, t0: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    writer = PreviewWriter(11, preview_dir, TEST_OPTIONS)
    with caplog.at_level(logging.INFO, logger="server.preview"):
        feed(writer, moving_frames(8), t0)
        # The camera was gone for a minute: frame times jump far past the video's clock.
        feed(writer, moving_frames(8, start=8), t0 + timedelta(seconds=60), first_index=8)
        writer.close()

    assert sum("off the video's clock" in r.getMessage() for r in caplog.records) == 1
    assert "#EXT-X-DISCONTINUITY" in (preview_dir / "11" / "index.m3u8").read_text()
    assert writer.restarts == 0


def test_frames_slower_than_fps_are_held_so_the_video_keeps_their_clock(
    preview_dir: Path, t0: datetime
) -> None:
    """A 2x2 mosaic hands over one frame in four: each fills four frames of video."""
    writer = PreviewWriter(12, preview_dir, replace(TEST_OPTIONS, list_size=20))
    for i, frame in enumerate(moving_frames(6)):
        assert writer.write(frame, t0 + timedelta(seconds=4 * i / FPS), FPS)
    writer.close()

    playlist = preview_dir / "12" / "index.m3u8"
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
         "-of", "csv=p=0", str(playlist)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    # ffprobe prints the count once per program and per stream: the same number.
    assert set(result.stdout.split()) == {str(5 * 4 + 1)}  # 10 s of video at 2 fps, to the last frame
    assert "#EXT-X-DISCONTINUITY" not in playlist.read_text()
    assert writer.restarts == 0


def test_close_leaves_no_ffmpeg_and_refuses_frames(preview_dir: Path, t0: datetime) -> None:
    writer = PreviewWriter(5, preview_dir, TEST_OPTIONS)
    feed(writer, moving_frames(4), t0)
    wait_for(lambda: writer.pid is not None, what="ffmpeg to start")
    pid = writer.pid
    writer.close()
    writer.close()  # idempotent

    assert ffmpeg_children() == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert writer.write(next(moving_frames(1)), t0, FPS) is False


def test_stuck_ffmpeg_drops_frames_without_blocking_and_is_killed_on_close(
    preview_dir: Path, t0: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    options = replace(TEST_OPTIONS, queue_frames=4, stop_timeout_s=1)
    writer = PreviewWriter(6, preview_dir, options)
    feed(writer, moving_frames(1), t0)
    wait_for(lambda: writer.pid is not None, what="ffmpeg to start")
    os.kill(writer.pid, signal.SIGSTOP)  # alive, but never reads its stdin again
    with caplog.at_level(logging.WARNING, logger="server.preview"):
        # Each 230 KB frame is bigger than a pipe's buffer: the writer thread blocks on the
        # first, and every call here still returns because the queue drops its oldest frame.
        accepted = feed(writer, moving_frames(30, start=1), t0, first_index=1)
        writer.close()

    assert accepted == 30
    assert writer.dropped >= 30 - options.queue_frames - 1
    assert sum("dropping frames" in r.getMessage() for r in caplog.records) == 1
    assert any("is stuck; killing it" in r.getMessage() for r in caplog.records)
    assert ffmpeg_children() == []


def test_restart_brake_closes_the_writer_after_too_many_deaths(
    preview_dir: Path, t0: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    options = replace(TEST_OPTIONS, max_restarts=2, restart_window_s=600)
    writer = PreviewWriter(8, preview_dir, options)
    killed: list[int] = []
    with caplog.at_level(logging.ERROR, logger="server.preview"):
        for index in range(3):
            feed(writer, moving_frames(1, start=index), t0, first_index=index)
            wait_for(lambda: writer.pid not in (None, *killed), what="ffmpeg to (re)start")
            killed.append(writer.pid)
            os.kill(writer.pid, signal.SIGKILL)
        feed(writer, moving_frames(1, start=3), t0, first_index=3)  # finds the third death: brake
        wait_for(lambda: writer.failed, what="the brake")
        assert writer.write(next(moving_frames(1)), t0, FPS) is False
        writer.close()

    assert writer.restarts == 2
    assert sum("preview stays off" in r.getMessage() for r in caplog.records) == 1
    assert ffmpeg_children() == []


def test_manager_sync_closes_writers_no_longer_enabled(preview_dir: Path, t0: datetime) -> None:
    manager = PreviewManager(preview_dir, TEST_OPTIONS)
    for processor_id in (1, 2):
        for i, frame in enumerate(moving_frames(6)):
            assert manager.write(processor_id, frame, t0 + timedelta(seconds=i / FPS), FPS)
    first, second = manager.writer(1), manager.writer(2)
    wait_for(lambda: first.pid is not None and second.pid is not None, what="both ffmpegs")

    manager.sync([2, 9])
    assert manager.writer(1) is None and first.closed
    assert second.pid is not None and not second.closed
    assert (preview_dir / "1" / "index.m3u8").is_file()

    manager.close_all()
    assert manager.writer(2) is None and second.closed
    assert ffmpeg_children() == []


def test_manager_reads_the_preview_folder_from_the_configuration(tmp_path: Path) -> None:
    manager = PreviewManager.from_config({"PROCESSORS_PREVIEW_DIR": str(tmp_path)})
    assert manager.preview_dir == tmp_path


@pytest.mark.parametrize(
    ("frame", "fps", "message"),
    [
        (np.zeros((240, 320), np.uint8), 2, "BGR uint8"),
        (np.zeros((240, 320, 3), np.float32), 2, "BGR uint8"),
        (np.zeros((240, 320, 3), np.uint8), 0, "fps > 0"),
    ],
)
def test_write_refuses_what_ffmpeg_cannot_take(
    preview_dir: Path, t0: datetime, frame: np.ndarray, fps: float, message: str
) -> None:
    writer = PreviewWriter(10, preview_dir, TEST_OPTIONS)
    try:
        with pytest.raises(ValueError, match=message):
            writer.write(frame, t0, fps)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("append", "present", "absent"),
    [
        (False, ["-hls_start_number_source", "epoch"], ["append_list"]),
        (True, [], ["-hls_start_number_source"]),
    ],
)
def test_command_is_h264_hls_with_date_times_and_deletion(
    tmp_path: Path, append: bool, present: list[str], absent: list[str]
) -> None:
    options = PreviewOptions(segment_s=2, list_size=4)
    command = hls_command(FrameFormat(640, 360, 5), tmp_path, options, append=append)
    flags = command[command.index("-hls_flags") + 1]
    assert {"delete_segments", "program_date_time", "independent_segments"} <= set(flags.split("+"))
    assert ("append_list" in flags) is append
    assert command[command.index("-g") + 1] == "10"  # one key frame per 2 s segment at 5 fps
    assert command[command.index("-s") + 1] == "640x360"
    assert command[command.index("-hls_list_size") + 1] == "4"
    assert command[command.index("-vcodec") + 1] == "libx264"
    for word in present:
        assert word in command
    for word in absent:
        assert word not in " ".join(command)


def _number(segment: str) -> int:
    return int(segment.removeprefix("seg").removesuffix(".ts"))
