"""hypersight configuration: every key, its default and what it is for.

Copy this file to ``instance/config.py`` and change what you need there; keys you
leave out keep the defaults below. Every key can be overridden once more by an
environment variable ``HYPERSIGHT_<KEY>`` (lists and dicts as JSON, booleans as
``true``/``false``). Relative paths are taken from the project's root folder.

Every process (web, worker, beat, faces relay, restart_watchers) reads this one
configuration, so a worker node on another machine needs the same file (or the
same environment) with the shared database and Redis addresses.
"""

# --- security -------------------------------------------------------------
# Signs session cookies and CSRF tokens. Required outside development mode:
# generate one with  python -c "import secrets; print(secrets.token_hex(32))"
SECRET_KEY = None

# Development mode allows running without SECRET_KEY (sessions and CSRF tokens are
# then signed with a key anyone can guess). Never enable it on a machine reachable by others.
DEVELOPMENT = False

# Bearer tokens accepted by the HTTP API (every route but /health). Empty: no
# authentication (bind the web app to loopback or a private network then).
API_TOKENS: list[str] = []

# --- storage --------------------------------------------------------------
# SQLite by default (WAL mode, foreign keys on). For several web or worker
# nodes use PostgreSQL: postgresql+psycopg://user:password@host/hypersight
SQLALCHEMY_DATABASE_URI = "sqlite:///var/hypersight.db"

# Redis: watcher leases and heartbeats, faces pub/sub.
REDIS_URL = "redis://127.0.0.1:6379/0"

# Celery broker; None means REDIS_URL.
CELERY_BROKER_URL = None

# Folder where watchers keep the stream segments they are working on.
SEGMENTS_DIR = "var/segments"

# Folder where processors with output_hls write their HLS previews.
PROCESSORS_PREVIEW_DIR = "var/previews"

# Logging level of every process: DEBUG, INFO, WARNING, ERROR.
LOG_LEVEL = "INFO"

# "text", or "json" (one object a line, with camera_id as a field on watcher lines).
LOG_FORMAT = "text"

# --- detector -------------------------------------------------------------
# The object detector (POST a JPEG, get [[x_min, y_min, x_max, y_max, score, class_id], ...]).
OBJECT_DETECTOR_URL = "http://127.0.0.1:8501/detect"

# The face detector (POST a JPEG crop, get {"boxes": [...], "conf": [...]}).
FACE_DETECTOR_URL = "http://127.0.0.1:8501/faces"

DETECTOR_CONNECT_TIMEOUT_S = 3.0
DETECTOR_READ_TIMEOUT_S = 10.0
# Retries after the first attempt, with exponential backoff from DETECTOR_BACKOFF_S.
DETECTOR_RETRIES = 2
DETECTOR_BACKOFF_S = 0.5
# JPEG quality of the mosaics sent to the detector (1..100).
DETECTOR_JPEG_QUALITY = 85

# --- faces WebSocket relay ------------------------------------------------
FACE_WS_ADDRESS = "127.0.0.1"
FACE_WS_PORT = 8765
# Tokens a subscriber may send after "client"; empty: no token needed.
FACE_WS_TOKENS: list[str] = []

# --- watchers -------------------------------------------------------------
# Lifetime of a watcher's Redis lease; a killed worker's cameras are picked up
# again after about this long.
WATCHER_LEASE_TTL_S = 30
# How often celery beat runs ensure_watchers.
WATCHER_CHECK_S = 15
