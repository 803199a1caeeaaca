"""The real servers the suite depends on start and answer."""

from __future__ import annotations

import psycopg

from lq.embedded import NatsServer


def test_postgres_answers(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("select 1").fetchone()
    assert row == (1,)


def test_nats_server_runs(nats_server: NatsServer) -> None:
    assert nats_server.proc.poll() is None
