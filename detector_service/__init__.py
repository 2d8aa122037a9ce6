"""Reference detector service speaking hypersight's detector protocol over HTTP.

Run ``python -m detector_service`` (development, port 8501) or
``gunicorn -w 1 --threads 4 -b 127.0.0.1:8501 'detector_service:create_app()'``
(production). See docs/detector.md.
"""

from __future__ import annotations

from detector_service.app import create_app

__all__ = ["create_app"]
