"""The two failures of a detector call that a watcher can act on.

A watcher keeps running whatever the detector does; it only needs to know *which*
state to report: the detector is down or slow (retry later, report ``detector_down``),
or it answers something that is not the protocol (a misconfigured URL or a broken
deployment: an operator must look).
"""

from __future__ import annotations


class DetectorError(Exception):
    """Base of every error raised by a detector client.

    Attributes:
        url: the URL that was called.
        attempts: how many HTTP requests were made before giving up.
    """

    def __init__(self, message: str, *, url: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts


class DetectorUnavailable(DetectorError):
    """The detector could not be reached or could not answer in time.

    Raised after the bounded retries when every attempt was refused, timed out
    (connect or read), or got a 5xx (or 429) status. Worth retrying later.
    """


class DetectorProtocolError(DetectorError):
    """The detector answered, but not in the protocol.

    Not JSON, a wrong shape, a non-finite number, coordinates outside 0..1 beyond a
    small tolerance, or a 4xx status (the service refused the request, or the URL is not
    a detector). Retrying the same request will not help.
    """
