"""An HLS playlist as a source of new segments, over HTTP or from a local folder.

The ``m3u8`` library parses playlists (master and media, PROGRAM-DATE-TIME,
media sequence) so we do not. Only segments not seen before are fetched; the
names seen are kept in a bounded window (SEEN_WINDOW, or twice the playlist's
length if that is more), so memory stays flat over weeks.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlparse

import m3u8
import requests
import urllib3

log = logging.getLogger(__name__)

SEEN_WINDOW = 512
DOWNLOAD_ATTEMPTS = 3
MAX_SEGMENT_BYTES = 256 << 20


class SourceError(RuntimeError):
    """The stream cannot be read right now (down, 404, not a playlist); the watcher retries."""


@dataclass(frozen=True)
class Segment:
    """One downloaded segment: a local file the watcher owns and deletes after use."""

    path: Path
    uri: str
    duration_s: float
    # Wall-clock start (UTC, aware) from EXT-X-PROGRAM-DATE-TIME; None when the playlist has none.
    program_date_time: datetime | None
    downloaded_at: datetime


def _is_local(url: str) -> bool:
    return urlparse(url).scheme in ("", "file")


def _local_path(url: str) -> Path:
    return Path(urlparse(url).path if url.startswith("file:") else url)


class HlsSource:
    """Polls one playlist and hands out each new segment once, in order."""

    def __init__(self, url: str, workdir: Path, http: requests.Session, timeout_s: float = 10.0) -> None:
        self.url = url
        self.media_url = url
        self.workdir = workdir
        self.http = http
        self.timeout_s = timeout_s
        self.target_duration_s = 2.0
        self._seen: deque[str] = deque(maxlen=SEEN_WINDOW)
        self._seen_set: set[str] = set()

    def poll(self) -> list[Segment]:
        """Download the segments that appeared since the last poll."""
        playlist = self._media_playlist()
        self.target_duration_s = float(playlist.target_duration or self.target_duration_s)
        if 2 * len(playlist.segments) > self._seen.maxlen:
            # A long (DVR) playlist: remember at least twice what it lists, or names still
            # listed would be forgotten and fetched again.
            self._seen = deque(self._seen, maxlen=2 * len(playlist.segments))
        fresh = [seg for seg in playlist.segments if self._uri(seg) not in self._seen_set]
        if not self._seen and len(fresh) > 2:
            # Joining a live stream: start near the live edge, not minutes back, and never
            # come back for what was skipped.
            for skipped in fresh[:-2]:
                self._remember(self._uri(skipped))
            fresh = fresh[-2:]
        segments = []
        for seg in fresh:
            self._remember(self._uri(seg))
            downloaded = self._download(seg)
            if downloaded is not None:
                segments.append(downloaded)
        return segments

    def _uri(self, seg: m3u8.Segment) -> str:
        return urljoin(self.media_url, seg.uri)

    def _remember(self, uri: str) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(uri)
        self._seen_set.add(uri)

    def _media_playlist(self) -> m3u8.M3U8:
        try:
            return self._parse_media_playlist()
        except (ValueError, SourceError) as exc:
            self.media_url = self.url  # a variant that died: ask the master playlist again next time
            raise SourceError(f"cannot use playlist {self.url}: {exc}") from exc

    def _parse_media_playlist(self) -> m3u8.M3U8:
        playlist = m3u8.loads(self._read_text(self.media_url), uri=self.media_url)
        if playlist.is_variant:
            variant = max(playlist.playlists, key=lambda p: p.stream_info.bandwidth or 0)
            self.media_url = urljoin(self.media_url, variant.uri)
            log.info("master playlist %s: following variant %s", self.url, self.media_url)
            playlist = m3u8.loads(self._read_text(self.media_url), uri=self.media_url)
        if not playlist.segments and not playlist.target_duration:
            raise SourceError(f"{self.media_url} is not an HLS media playlist")
        return playlist

    def _read_text(self, url: str) -> str:
        try:
            if _is_local(url):
                return _local_path(url).read_text()
            response = self.http.get(url, timeout=self.timeout_s)
            response.raise_for_status()
            return response.text
        except (OSError, ValueError, requests.RequestException) as exc:
            raise SourceError(f"cannot read playlist {url}: {exc}") from exc

    def _download(self, seg: m3u8.Segment) -> Segment | None:
        """The segment as a local file; a failed or empty download is retried, then skipped."""
        uri = self._uri(seg)
        target = self.workdir / f"{time.time_ns()}.ts"
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                data = self._read_bytes(uri)
                if not data:
                    raise SourceError("empty segment")
                target.write_bytes(data)
                return Segment(target, uri, float(seg.duration or 0), _aware(seg.current_program_date_time),
                               datetime.now(UTC))
            except (SourceError, OSError, requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                log.warning("segment %s, attempt %d/%d: %s", uri, attempt, DOWNLOAD_ATTEMPTS, exc)
                time.sleep(0.2 * attempt)
        log.error("skipping segment %s after %d failed downloads", uri, DOWNLOAD_ATTEMPTS)
        return None

    def _read_bytes(self, uri: str) -> bytes:
        if _is_local(uri):
            return _local_path(uri).read_bytes()
        response = self.http.get(uri, timeout=self.timeout_s, stream=True)
        response.raise_for_status()
        data = response.raw.read(MAX_SEGMENT_BYTES + 1, decode_content=True)
        if len(data) > MAX_SEGMENT_BYTES:
            raise SourceError(f"segment larger than {MAX_SEGMENT_BYTES} bytes")
        return data


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
