"""``host.removed`` in the read model: the row and its reservations go, the history stays,
and enrolling again makes a fresh row (also within one batch)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from events import host
from projections.batch import apply_batch
from projections.tables import Change
from tests.projections.test_fold import World, count, row

Conn = psycopg.AsyncConnection[Any]


async def _hosts(conn: Conn, ident: str) -> int:
    return await count(conn, f"SELECT count(*) FROM hosts WHERE id = '{ident}'")


@pytest.fixture
async def world(conn: Conn) -> World:
    w = World(conn)
    await w.setup()
    return w


def _again(h: str) -> host.HostEnrolled:
    return host.HostEnrolled(host_id=h, name="hv-1", uri="qemu:///system", cpus=8, memory_mib=8192)


async def test_removed_host_row_and_reservations_are_dropped(world: World) -> None:
    w, h = world, world.host_id
    await w.host(host.HostCapacityReserved(host_id=h, vm_id=w.vm_id, vcpus=2, memory_mib=2048))
    await w.host(host.HostMaintenanceEntered(host_id=h))
    changes = await w.host(host.HostRemoved(host_id=h, name="hv-1"))
    assert Change("host", h, w.s.seq) in changes
    assert await _hosts(w.conn, h) == 0
    assert await count(w.conn, f"SELECT count(*) FROM reservations WHERE host_id = '{h}'") == 0
    assert await count(w.conn, "SELECT count(*) FROM events WHERE type = 'host.removed'") == 1
    # a late capacity event for the removed host changes nothing
    await w.host(host.HostCapacityReleased(host_id=h, vm_id=w.vm_id))
    assert await _hosts(w.conn, h) == 0
    await w.host(_again(h))
    r = await row(w.conn, "hosts", h)
    assert (r["state"], r["labels"], r["vm_count"], r["allocated_vcpus"]) == ("connected", {}, 0, 0)


async def test_removed_and_enrolled_again_in_one_batch(world: World) -> None:
    w, h = world, world.host_id
    await w.host(host.HostCapacityReserved(host_id=h, vm_id=w.vm_id, vcpus=2, memory_mib=2048))
    batch = [
        *w.s.msg("host", h, [host.HostMaintenanceEntered(host_id=h)]),
        *w.s.msg("host", h, [host.HostRemoved(host_id=h, name="hv-1", forced=True)]),
        *w.s.msg("host", h, [_again(h)]),
    ]
    await apply_batch(w.conn, batch)
    r = await row(w.conn, "hosts", h)
    assert (r["state"], r["labels"], r["vm_count"], r["uri"]) == (
        "connected",
        {},
        0,
        "qemu:///system",
    )
    assert await count(w.conn, f"SELECT count(*) FROM reservations WHERE host_id = '{h}'") == 0
