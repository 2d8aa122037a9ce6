"""``python -m detector_service``: run the detector service (threaded development server).

For production run the same app under gunicorn; see docs/detector.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from detector_service.app import create_app
from detector_service.backends import BACKENDS
from detector_service.settings import ENV_PREFIX, parse_classes, settings_from_env

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


SETTING_FLAGS: list[tuple[str, type | object, str]] = [
    ("--model", str, "ONNX model file of an Ultralytics YOLO v5/v8/v11 export (onnx backend)"),
    ("--score-threshold", float, "drop detections below this score (default 0.25)"),
    ("--nms-iou", float, "IoU of non-maximum suppression (default 0.45)"),
    ("--classes", parse_classes, "comma-separated COCO class ids to keep (default: all)"),
    ("--imgsz", int, "input side for models with a dynamic input size (default 640)"),
    ("--threads", int, "CPU threads of the backend (default: the library's own)"),
    ("--hog-upscale", float, "opencv backend: enlarge tiles by this factor (default 1.5)"),
    ("--max-pixels", int, "refuse larger images with a 413 (default 50000000)"),
]


def build_parser() -> argparse.ArgumentParser:
    """Flags; a setting flag left out takes its ``HYPERSIGHT_DETECTOR_*`` variable, else its default."""
    parser = argparse.ArgumentParser(
        prog="python -m detector_service",
        description="Reference object and face detector speaking hypersight's detector protocol: "
        "POST /detect (JPEG, optional X-Grid: RxC), POST /faces, GET /health, GET /metrics.",
        epilog=f"Settings can also come from {ENV_PREFIX}<NAME> variables (e.g. {ENV_PREFIX}BACKEND=onnx).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument("--backend", choices=sorted(BACKENDS), help="detector backend (default opencv)")
    for flag, kind, text in SETTING_FLAGS:
        parser.add_argument(flag, type=kind, help=text)
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse flags, build the app, serve until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    logging.getLogger("werkzeug").setLevel(args.log_level.upper())  # it would log every request at INFO
    names = [flag[2:].replace("-", "_") for flag, _, _ in SETTING_FLAGS]
    overrides = {name: getattr(args, name) for name in names}
    try:
        settings = settings_from_env(os.environ).with_overrides(backend=args.backend, **overrides)
        app = create_app(settings=settings)
    except Exception as exc:  # a bad setting or model file (ONNX Runtime raises plain Exceptions)
        logger.error("cannot start the detector service: %s: %s", type(exc).__name__, exc)
        return 2
    logger.info("listening on http://%s:%d", args.host, args.port)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
