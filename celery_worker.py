"""Entry point of Celery workers and beat: ``celery -A celery_worker.celery worker -Q watchers``."""

from server import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
