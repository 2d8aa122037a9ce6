"""One-shot at boot (and on demand): stop every watcher gracefully, then start one per enabled camera.

    python restart_watchers.py [--wait 60]

Running watchers see the new generation in Redis on their next loop, store what
they computed, close their previews and release their leases; this waits for
the leases to go (bounded), then queues a watcher per enabled camera.
"""

from __future__ import annotations

import time

import click
from flask import current_app
from sqlalchemy import select

from server import create_app
from server.extensions import redis_client, sessionmaker_of
from server.models import Camera
from server.watcher.lease import GENERATION_KEY, pending_key
from server.watcher.tasks import _leased_ids, watch_camera


def restart(wait_s: float) -> dict[str, list[int]]:
    client = redis_client()
    generation = client.incr(GENERATION_KEY)
    running = _leased_ids(client)
    click.echo(f"generation {generation}: asked {len(running)} watcher(s) to stop: {running}")
    deadline = time.monotonic() + wait_s
    while _leased_ids(client) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _leased_ids(client)
    if left:
        click.echo(f"still running after {wait_s:.0f}s (their leases expire by themselves): {left}")
    with sessionmaker_of(current_app)() as session:
        enabled = list(session.scalars(select(Camera.id).where(Camera.enabled.is_(True)).order_by(Camera.id)))
    for camera_id in enabled:
        client.set(pending_key(camera_id), "1", ex=2 * int(current_app.config["WATCHER_LEASE_TTL_S"]))
        watch_camera.delay(camera_id)
    click.echo(f"started watchers for camera(s) {enabled}")
    return {"stopped": running, "started": enabled, "left": left}


@click.command()
@click.option("--wait", "wait_s", default=60.0, show_default=True, help="Seconds to wait for watchers to stop.")
def main(wait_s: float) -> None:
    app = create_app()
    with app.app_context():
        restart(wait_s)


if __name__ == "__main__":
    main()
