"""The HLS source on local playlists: new segments only, live edge, master playlists, bounded memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from server.watcher.hls import SEEN_WINDOW, HlsSource, SourceError


def write_playlist(folder: Path, first: int, count: int, name: str = "live.m3u8", pdt: bool = True) -> Path:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for number in range(first, first + count):
        (folder / f"s{number}.ts").write_bytes(b"\x47" * 188)
        if pdt:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:{number // 30 % 60:02d}:{number * 2 % 60:02d}Z")
        lines += ["#EXTINF:2.0,", f"s{number}.ts"]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def source(tmp_path):
    def make(playlist: Path) -> HlsSource:
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        return HlsSource(str(playlist), work, requests.Session())

    return make


def test_new_segments_only_starting_at_the_live_edge(tmp_path, source):
    playlist = write_playlist(tmp_path, 0, 6)
    hls = source(playlist)
    first = hls.poll()
    assert [Path(s.uri).name for s in first] == ["s4.ts", "s5.ts"]
    assert first[0].program_date_time.isoformat() == "2026-01-01T00:00:08+00:00"
    assert hls.poll() == []
    write_playlist(tmp_path, 3, 6)
    assert [Path(s.uri).name for s in hls.poll()] == ["s6.ts", "s7.ts", "s8.ts"]
    assert all(s.path.read_bytes() == b"\x47" * 188 for s in first)


def test_master_playlist_follows_the_best_variant(tmp_path, source):
    (tmp_path / "low").mkdir()
    (tmp_path / "high").mkdir()
    write_playlist(tmp_path / "low", 0, 2, pdt=False)
    write_playlist(tmp_path / "high", 0, 2, pdt=False)
    master = tmp_path / "master.m3u8"
    master.write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nlow/live.m3u8\n"
                      "#EXT-X-STREAM-INF:BANDWIDTH=2000000\nhigh/live.m3u8\n")
    segments = source(master).poll()
    assert [Path(s.uri).parent.name for s in segments] == ["high", "high"]
    assert segments[0].program_date_time is None


def test_memory_of_seen_segments_is_bounded(tmp_path, source):
    hls = source(write_playlist(tmp_path, 0, 3))
    hls.poll()
    for first in range(1, SEEN_WINDOW + 200):
        (tmp_path / f"s{first - 1}.ts").unlink(missing_ok=True)
        write_playlist(tmp_path, first, 3)
        for segment in hls.poll():
            segment.path.unlink()
    assert len(hls._seen) == len(hls._seen_set) == SEEN_WINDOW


def test_long_dvr_playlist_is_not_fetched_again(tmp_path, source):
    """A playlist listing more segments than the default memory: what it lists stays remembered."""
    count = SEEN_WINDOW + 300
    hls = source(write_playlist(tmp_path, 0, count))
    assert len(hls.poll()) == 2  # the live edge
    for first in range(1, 4):
        write_playlist(tmp_path, first, count)
        assert [Path(s.uri).name for s in hls.poll()] == [f"s{first + count - 1}.ts"]


@pytest.mark.parametrize("text", ["", "not a playlist", "#EXTM3U\n"])
def test_not_a_playlist_is_a_source_error(tmp_path, source, text):
    path = tmp_path / "bad.m3u8"
    path.write_text(text)
    with pytest.raises(SourceError):
        source(path).poll()


def test_missing_playlist_is_a_source_error(tmp_path, source):
    with pytest.raises(SourceError, match="cannot read playlist"):
        source(tmp_path / "nothing.m3u8").poll()
