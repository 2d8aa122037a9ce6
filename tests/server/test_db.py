"""Engines: a PostgreSQL server that never answers costs a connection attempt seconds, not minutes."""

from __future__ import annotations

import socket
import threading

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from server.db import make_engine


def test_silent_postgresql_server_fails_the_connection_instead_of_hanging():
    # A socket that listens but never accepts: the TCP handshake completes, the server never speaks.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql+psycopg://user:pw@127.0.0.1:{port}/db")
        outcome: list[BaseException] = []

        def connect() -> None:
            try:
                with engine.connect() as conn:
                    conn.execute(text("select 1"))
            except BaseException as exc:  # whatever came out is looked at below
                outcome.append(exc)

        attempt = threading.Thread(target=connect, daemon=True)
        attempt.start()
        attempt.join(timeout=60)
        assert not attempt.is_alive(), "the connection attempt is still waiting for the server"
        assert isinstance(outcome[0], OperationalError)
        engine.dispose()

