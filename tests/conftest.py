"""Shared fixtures: real nats-server (single and three-node cluster) and real PostgreSQL.

Each test gets a fresh nats-server (they start in ~50 ms) and a fresh database in one
session-wide private PostgreSQL, so tests never see each other's state.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from lq.embedded import NatsServer, Postgres, start_nats, start_nats_cluster, start_postgres


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    srv = start_nats(tmp_path / "nats")
    yield srv
    srv.stop()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    servers = start_nats_cluster(tmp_path / "cluster")
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Postgres]:
    # Not under pytest's basetemp: pytest prunes old basetemp folders, and a concurrent
    # pytest session must not delete this one's database files.
    root = Path(tempfile.mkdtemp(prefix="lq-test-pg-"))
    pg = start_postgres(root / "data")
    yield pg
    pg.stop()
    shutil.rmtree(root, ignore_errors=True)


def with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture
def pg_url(pg_server: Postgres) -> Iterator[str]:
    """A fresh, empty database for this test."""
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_dbname(pg_server.url, name)
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def qemu_uri() -> Iterator[str]:
    """``qemu:///system`` for the real-hypervisor tier (tests/qemu/daemons.py): libvirtd
    and virtlogd started if none answers, or the test skipped with the reason."""
    from tests.qemu import daemons  # imported here: only the tier pays for libvirt

    yield from daemons.session()


@pytest.fixture(autouse=True)
def _qemu_marked(request: pytest.FixtureRequest) -> None:
    """A test marked ``qemu`` gets libvirtd + QEMU (started if need be) or is skipped."""
    if request.node.get_closest_marker("qemu") is not None:
        request.getfixturevalue("qemu_uri")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last, and of them those on the session's sync ``browser`` at the
    very end (Playwright's sync API owns the thread's event loop while that browser is
    open, so no asyncio test may follow); long soak, scale and fault runs (marker
    ``slow``) only run with ``LQ_SLOW=1``."""
    items.sort(
        key=lambda item: (
            "e2e" in item.keywords,
            "browser" in getattr(item, "fixturenames", ()),
        )
    )
    if os.environ.get("LQ_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set LQ_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
