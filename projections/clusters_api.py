"""Query routes of clusters, resource pools, affinity rules and placement decisions.

- ``GET /api/v1/clusters``: each cluster with its host count, capacity and allocation
  totals and VM count; ``GET /api/v1/clusters/{id}``: the same plus its hosts, its VMs
  and its resource pools (each with the vCPUs, memory and VMs its VMs use).
- ``GET /api/v1/clusters/{id}/resource-pools``: the pools with their usage.
- ``GET /api/v1/affinity-rules``: every rule.
- ``GET /api/v1/vms/{id}/placement``: every placement decision about the VM (creation and
  migrations) from the events table — "why is my VM on host 7?".
"""

from __future__ import annotations

from typing import Any

import psycopg
from aiohttp import web

from events import problems
from events.affinity import RuleType
from events.listing import Filter, Listing, listed, page_rows
from events.permissions import CLUSTER_READ, VM_READ, requires
from projections import queries
from projections.api import _read
from projections.queries import _rows

Conn = psycopg.AsyncConnection[Any]
RULE_TYPES: tuple[str, ...] = RuleType.__args__  # type: ignore[attr-defined]

_CLUSTER = (
    "SELECT c.*, count(h.id) AS host_count,"
    " count(h.id) FILTER (WHERE h.state = 'connected') AS hosts_connected,"
    " COALESCE(sum(h.cpus), 0)::bigint AS cpus,"
    " COALESCE(sum(h.memory_mib), 0)::bigint AS memory_mib,"
    " COALESCE(sum(h.allocated_vcpus), 0)::bigint AS allocated_vcpus,"
    " COALESCE(sum(h.allocated_memory_mib), 0)::bigint AS allocated_memory_mib,"
    " COALESCE(sum(h.vm_count), 0)::bigint AS vm_count"
    " FROM clusters c LEFT JOIN hosts h ON h.cluster_id = c.id"
)


def setup(app: web.Application) -> None:
    r = app.router
    base = "/api/v1"
    r.add_get(f"{base}/clusters", requires(CLUSTER_READ)(_read(_list)))
    r.add_get(f"{base}/clusters/{{id}}", requires(CLUSTER_READ)(_read(_detail)))
    r.add_get(f"{base}/clusters/{{id}}/resource-pools", requires(CLUSTER_READ)(_read(_pools)))
    r.add_get(f"{base}/affinity-rules", requires(CLUSTER_READ)(_read(_rules)))
    r.add_get(f"{base}/vms/{{id}}/placement", requires(VM_READ)(_read(_placement)))


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    row["cluster_id"] = row["id"]
    return row


CLUSTER_LISTING = Listing(
    keys={"name": "text", "created_at": "timestamptz", "host_count": "bigint",
          "vm_count": "bigint", "cpus": "bigint", "memory_mib": "bigint"},
    default_sort="name",
    filters={"q": Filter("search", sql="name ILIKE %s", description="name substring")},
    default_limit=500,
)  # fmt: skip


@listed(CLUSTER_LISTING)
async def _list(request: web.Request, conn: Conn) -> Any:
    asked = CLUSTER_LISTING.parse(request.query)
    out = await queries.listing_page(conn, f"({_CLUSTER} GROUP BY c.id) cl", asked)
    out["items"] = [_shape(r) for r in out["items"]]
    return out


async def _pool_usage(conn: Conn, pools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [p["pool_id"] for p in pools]
    used = {
        r["resource_pool_id"]: r
        for r in await _rows(
            conn,
            "SELECT resource_pool_id, count(*) AS vm_count,"
            " COALESCE(sum(vcpus), 0)::bigint AS used_vcpus,"
            " COALESCE(sum(memory_mib), 0)::bigint AS used_memory_mib"
            " FROM vms WHERE resource_pool_id = ANY(%s) AND state <> 'deleted'"
            " GROUP BY resource_pool_id",
            [ids],
        )
    }
    out = []
    for p in pools:
        u = used.get(p["pool_id"], {})
        out.append(
            {
                **p,
                "vm_count": u.get("vm_count", 0),
                "used_vcpus": u.get("used_vcpus", 0),
                "used_memory_mib": u.get("used_memory_mib", 0),
            }
        )
    return out


async def _one(conn: Conn, ident: str) -> dict[str, Any]:
    rows = await _rows(conn, f"{_CLUSTER} WHERE c.id = %s GROUP BY c.id", [ident])
    if not rows:
        raise problems.not_found("cluster", ident)
    return _shape(rows[0])


async def _detail(request: web.Request, conn: Conn) -> Any:
    row = await _one(conn, request.match_info["id"])
    row["pools"] = await _pool_usage(conn, list(row["pools"]))
    row["hosts"] = await _rows(
        conn,
        "SELECT id, name, state, cpus, memory_mib, allocated_vcpus, allocated_memory_mib,"
        " vm_count, labels FROM hosts WHERE cluster_id = %s ORDER BY name, id",
        [row["id"]],
    )
    row["vms"] = await _rows(
        conn,
        "SELECT v.id, v.name, v.state, v.host_id, v.host_name, v.vcpus, v.memory_mib,"
        " v.resource_pool_id FROM vms v JOIN hosts h ON h.id = v.host_id"
        " WHERE h.cluster_id = %s AND v.state <> 'deleted' ORDER BY v.name, v.id",
        [row["id"]],
    )
    return row


POOL_LISTING = Listing(
    keys={"name": "text", "vm_count": "int", "used_vcpus": "int", "used_memory_mib": "int"},
    default_sort="name",
    default_limit=500,
    tiebreak=(("pool_id", "text"),),
)
RULE_LISTING = Listing(
    keys={"name": "text", "rule_type": "text", "created_at": "timestamptz"},
    default_sort="name",
    filters={
        "rule_type": Filter("enum", RULE_TYPES, "rule_type = ANY(%s)", "comma-separated"),
        "enabled": Filter("bool", sql="enabled = %s", description="true or false"),
        "vm_id": Filter(sql="vm_ids ? %s", description="rules naming this VM"),
    },
    default_limit=500,
)


@listed(POOL_LISTING)
async def _pools(request: web.Request, conn: Conn) -> Any:
    asked = POOL_LISTING.parse(request.query)
    row = await _one(conn, request.match_info["id"])
    return page_rows(await _pool_usage(conn, list(row["pools"])), asked)


@listed(RULE_LISTING)
async def _rules(request: web.Request, conn: Conn) -> Any:
    out = await queries.listing_page(conn, "affinity_rules", RULE_LISTING.parse(request.query))
    for r in out["items"]:
        r["rule_id"] = r["id"]
    return out


async def _placement(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    if not await _rows(conn, "SELECT id FROM vms WHERE id = %s", [ident]):
        raise problems.not_found("vm", ident)
    rows = await _rows(
        conn,
        "SELECT seq, type, occurred_at, actor, correlation_id, data FROM events"
        " WHERE aggregate_kind = 'vm' AND aggregate_id = %s"
        " AND type IN ('vm.placed', 'vm.migration_started') ORDER BY seq, index",
        [ident],
    )
    decisions = [
        {
            "seq": r["seq"],
            "type": r["type"],
            "occurred_at": r["occurred_at"],
            "actor": r["actor"],
            "task_id": r["correlation_id"],
            "host_id": r["data"].get("host_id") or r["data"].get("to_host_id"),
            "from_host_id": r["data"].get("from_host_id"),
            "decision": r["data"].get("decision"),
        }
        for r in rows
    ]
    return {"vm_id": ident, "decisions": decisions}
