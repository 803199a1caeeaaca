"""Query routes of storage pools and volumes (their commands are ``controlplane.api.storage``).

A pool is answered with its hosts (state and sizes each reported) and its totals; a volume
with its pool's name and the VMs whose disks use it (``attached_to``), found in the ``vms``
read model by ``pool_id`` and volume name, or by the ``<vm_id>-<disk_id>.qcow2`` naming
rule of disks the VM made itself. Every route honours ``?min_seq=`` like the others.
"""

from __future__ import annotations

from typing import Any

import psycopg
from aiohttp import web

from events import problems
from events.listing import Filter, Listing, listed
from events.permissions import STORAGE_READ, requires
from events.storage import PoolType, VolumeState
from projections import queries
from projections.api import _read

Conn = psycopg.AsyncConnection[Any]
POOL_TYPES: tuple[str, ...] = PoolType.__args__  # type: ignore[attr-defined]
VOLUME_STATES: tuple[str, ...] = VolumeState.__args__  # type: ignore[attr-defined]


_HOSTS = (
    "(SELECT COALESCE(jsonb_agg(jsonb_build_object('host_id', h.host_id, 'host_name',"
    " COALESCE(x.name, h.host_id), 'state', h.state, 'capacity_bytes', h.capacity_bytes,"
    " 'allocation_bytes', h.allocation_bytes, 'available_bytes', h.available_bytes,"
    " 'error', h.error, 'updated_at', h.updated_at) ORDER BY h.host_id), '[]'::jsonb)"
    " FROM storage_pool_hosts h LEFT JOIN hosts x ON x.id = h.host_id"
    " WHERE h.pool_id = p.id)"
)
POOLS = f"(SELECT p.*, {_HOSTS} AS hosts FROM storage_pools p WHERE NOT p.deleted) sp"

_ATTACHED = (
    "(SELECT COALESCE(jsonb_agg(jsonb_build_object('vm_id', m.id, 'vm_name', m.name,"
    " 'disk_id', d->>'disk_id')), '[]'::jsonb)"
    " FROM vms m, jsonb_array_elements(m.disks) d"
    " WHERE m.state <> 'deleted' AND d->>'pool_id' = v.pool_id"
    " AND (d->>'volume' = v.name OR (COALESCE(d->>'volume', '') = ''"
    " AND m.id || '-' || (d->>'disk_id') || '.qcow2' = v.name)))"
)
VOLUMES = (
    f"(SELECT v.*, p.name AS pool_name, p.type AS pool_type, {_ATTACHED} AS attached_to"
    " FROM volumes v JOIN storage_pools p ON p.id = v.pool_id) sv"
)


def setup(app: web.Application) -> None:
    """Add the routes (``projections.api.setup`` owns the pool they read through)."""
    r = app.router
    base = "/api/v1"
    r.add_get(f"{base}/storage-pools", requires(STORAGE_READ)(_read(_list_pools)))
    r.add_get(f"{base}/storage-pools/{{id}}", requires(STORAGE_READ)(_read(_pool)))
    r.add_get(f"{base}/volumes", requires(STORAGE_READ)(_read(_list_volumes)))
    r.add_get(f"{base}/volumes/{{id}}", requires(STORAGE_READ)(_read(_volume)))


POOL_LISTING = Listing(
    keys={"name": "text", "type": "text", "state": "text", "created_at": "timestamptz",
          "capacity_bytes": "bigint", "allocated_bytes": "bigint", "volume_count": "int"},
    default_sort="name",
    filters={
        "type": Filter("enum", POOL_TYPES, "type = ANY(%s)", "comma-separated"),
        "host_id": Filter(sql="EXISTS (SELECT 1 FROM storage_pool_hosts h"
                          " WHERE h.pool_id = sp.id AND h.host_id = %s)",
                          description="pools attached to this host"),
        "q": Filter("search", sql="name ILIKE %s", description="name substring"),
    },
    default_limit=500,
)  # fmt: skip


@listed(POOL_LISTING)
async def _list_pools(request: web.Request, conn: Conn) -> Any:
    return await queries.listing_page(conn, POOLS, POOL_LISTING.parse(request.query))


async def _one(conn: Conn, table: str, ident: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        await cur.execute(f"SELECT * FROM {table} WHERE id = %s".encode(), [ident])
        return await cur.fetchone()


async def _pool(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    row = await _one(conn, POOLS, ident)
    if row is None:
        raise problems.not_found("storage-pool", ident)
    return row


VOLUME_LISTING = Listing(
    keys={"name": "text", "state": "text", "created_at": "timestamptz",
          "size_bytes": "bigint", "pool_name": "text"},
    default_sort="name",
    filters={
        "pool_id": Filter(sql="pool_id = %s", description="one pool's"),
        "state": Filter("enum", VOLUME_STATES, "state = ANY(%s)", "comma-separated"),
        "q": Filter("search", sql="name ILIKE %s", description="name substring"),
    },
)  # fmt: skip


@listed(VOLUME_LISTING)
async def _list_volumes(request: web.Request, conn: Conn) -> Any:
    return await queries.listing_page(conn, VOLUMES, VOLUME_LISTING.parse(request.query))


async def _volume(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    row = await _one(conn, VOLUMES, ident)
    if row is None:
        raise problems.not_found("volume", ident)
    return row
