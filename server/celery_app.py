"""The Celery app, wired to the Flask app as Flask's own Celery example does.

Every task runs inside ``app.app_context()``, so tasks use the same
configuration, database sessions and Redis client as the web app.

Why these settings:
- A watcher runs for days. It is acknowledged when received (``acks_late`` off):
  if its worker dies, the broker must NOT redeliver it, because the Redis lease,
  not the broker, decides who watches a camera; ``ensure_watchers`` starts a new
  one within about one lease TTL. A redelivery would only start a copy that the
  lease refuses, and the long visibility timeout keeps even that rare.
- ``worker_prefetch_multiplier = 1`` and ``worker_disable_prefetch``: a worker
  takes a task from the broker only while it has a free process. Watchers are
  acknowledged and never finish, so the prefetch window alone would not count
  them: a worker whose processes all watch cameras would still reserve new
  watchers it cannot run, and those cameras would wait for the ``ensure_watchers``
  retry (two lease TTLs) instead of going to a node with room.
- No time limits: a watcher never finishes by itself.
- Each watcher occupies one worker process; a worker needs a concurrency (or
  ``--autoscale``) larger than the number of cameras it should carry, plus one
  for ``ensure_watchers``, which goes to its own ``control`` queue so that it is
  never stuck behind watchers.
"""

from __future__ import annotations

import logging

from celery import Celery, Task
from flask import Flask

WATCHERS_QUEUE = "watchers"
CONTROL_QUEUE = "control"


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=app.config["CELERY_BROKER_URL"],
        imports=["server.watcher.tasks"],
        task_ignore_result=True,
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        task_time_limit=None,
        task_soft_time_limit=None,
        task_default_queue=CONTROL_QUEUE,
        task_routes={"hypersight.watch_camera": {"queue": WATCHERS_QUEUE},
                     "hypersight.ensure_watchers": {"queue": CONTROL_QUEUE}},
        beat_schedule={"ensure-watchers": {"task": "hypersight.ensure_watchers",
                                           "schedule": float(app.config["WATCHER_CHECK_S"])}},
        broker_transport_options={"visibility_timeout": 24 * 3600},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    # Celery logs every task's success at INFO: one line per ensure_watchers run, every few
    # seconds, forever. Failures are still logged (at ERROR); watchers log their own start.
    logging.getLogger("celery.app.trace").setLevel(max(logging.WARNING, logging.getLogger().level))
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
