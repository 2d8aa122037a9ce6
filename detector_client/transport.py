"""HTTP transport of the detector clients: one pooled session per process, retries, typed errors.

Why one session per *process*: a watcher posts a mosaic every second or so, and a
keep-alive connection saves a TCP (and TLS) handshake each time; but Celery's prefork
workers fork, and a connection pool must never be shared across a fork, so the
session is keyed by the process id.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from detector_client.errors import DetectorProtocolError, DetectorUnavailable

logger = logging.getLogger(__name__)

POOL_MAXSIZE = 16
"""Connections kept per host: enough for the watchers (threads) of one process."""

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

_sessions: dict[int, requests.Session] = {}
_sessions_lock = threading.Lock()


def lean_session() -> requests.Session:
    """A session that does not read the environment on every request, unless it must.

    requests looks up proxy variables, .netrc and CA-bundle variables for each request
    (``trust_env``): measured at about 12 % of a watcher's CPU. When no proxy is set at
    start, the lookups are turned off and a CA bundle named in the environment is
    kept; with a proxy configured, requests keeps doing what it always does.
    """
    session = requests.Session()
    if not urllib.request.getproxies():
        session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session


def shared_session() -> requests.Session:
    """The process's pooled session, created on first use (and again after a fork)."""
    pid = os.getpid()
    with _sessions_lock:
        session = _sessions.get(pid)
        if session is None:
            _sessions.clear()  # sessions inherited from a parent process are not ours to use
            session = lean_session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[pid] = session
        return session


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts and bounded retries of one detector endpoint.

    Attributes:
        connect_timeout_s: how long to wait for the TCP connection.
        read_timeout_s: how long to wait for the answer once connected.
        retries: extra attempts after the first one (0: no retry).
        backoff_s: sleep before the first retry; doubled before each next one.
    """

    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 0.5

    def __post_init__(self) -> None:
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("timeouts must be > 0 seconds")
        if self.retries < 0 or self.backoff_s < 0:
            raise ValueError(f"retries and backoff_s must be >= 0, got {self.retries}, {self.backoff_s}")

    def backoff_before(self, attempt: int) -> float:
        """Seconds to sleep before attempt number ``attempt`` (0-based; 0 for the first)."""
        return 0.0 if attempt == 0 else self.backoff_s * 2 ** (attempt - 1)


def _attempt(url: str, body: bytes, headers: dict[str, str], policy: RetryPolicy) -> requests.Response | str:
    """One POST: the response, or why it is worth retrying."""
    try:
        response = shared_session().post(
            url, data=body, headers=headers, timeout=(policy.connect_timeout_s, policy.read_timeout_s)
        )
    except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
        return f"timed out ({type(exc).__name__})"
    except requests.ConnectionError as exc:
        return f"connection failed ({type(exc).__name__}: {exc})"
    if response.status_code in RETRYABLE_STATUS:
        return f"HTTP {response.status_code}"
    return response


def post_jpeg(url: str, jpeg: bytes, policy: RetryPolicy, extra_headers: dict[str, str] | None = None) -> Any:
    """POST a JPEG and return the decoded JSON answer.

    Raises:
        DetectorUnavailable: every attempt was refused, timed out or got a 5xx/429.
        DetectorProtocolError: a 4xx status (not retried) or a body that is not JSON.
    """
    headers = {"Content-Type": "image/jpeg", **(extra_headers or {})}
    attempts = policy.retries + 1
    reason = ""
    for attempt in range(attempts):
        time.sleep(policy.backoff_before(attempt))
        outcome = _attempt(url, jpeg, headers, policy)
        if isinstance(outcome, str):
            reason = outcome
            logger.debug("detector %s attempt %d/%d: %s", url, attempt + 1, attempts, reason)
            continue
        return _json_of(outcome, url, attempt + 1)
    raise DetectorUnavailable(f"detector {url} unavailable: {reason} after {attempts} attempts",
                              url=url, attempts=attempts)


def _json_of(response: requests.Response, url: str, attempts: int) -> Any:
    if response.status_code != 200:
        raise DetectorProtocolError(
            f"detector {url} refused the request: HTTP {response.status_code}: {response.text[:200]!r}",
            url=url, attempts=attempts,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise DetectorProtocolError(
            f"detector {url} answered something that is not JSON: {response.text[:80]!r}",
            url=url, attempts=attempts,
        ) from exc
