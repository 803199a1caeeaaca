"""Query routes of virtual networks and security groups.

Read from ``networks``, ``network_addresses``, ``security_groups`` and
``security_group_rules`` (``projections.networks``) through the same ``_read`` wrapper as
every other GET, so ``?min_seq=`` gives read-your-writes after a change. A network shows
its DHCP settings, per-host state and the VMs connected to it (from its addresses); a
group its rules in order, split into inbound and outbound for the dashboard, and the
NICs it filters. Lists are small (tens of networks), so they are answered whole.
"""

from __future__ import annotations

from typing import Any

import psycopg
from aiohttp import web

from events import problems
from events.permissions import NETWORK_READ, requires
from projections.api import _read, _text
from projections.queries import _rows

Conn = psycopg.AsyncConnection[Any]
TYPES = ("isolated", "nat", "bridge", "vlan")

_NETWORK = (
    "SELECT n.*, (SELECT count(DISTINCT a.vm_id) FROM network_addresses a"
    " WHERE a.network_id = n.id AND a.state = 'allocated') AS connected_vms"
    " FROM networks n"
)


def setup(app: web.Application) -> None:
    """Add the routes (``projections.api.setup`` owns the pool they read through)."""
    r = app.router
    base = "/api/v1"
    r.add_get(f"{base}/networks", requires(NETWORK_READ)(_read(_list_networks)))
    r.add_get(f"{base}/networks/{{id}}", requires(NETWORK_READ)(_read(_network)))
    r.add_get(f"{base}/networks/{{id}}/addresses", requires(NETWORK_READ)(_read(_addresses)))
    r.add_get(f"{base}/security-groups", requires(NETWORK_READ)(_read(_list_groups)))
    r.add_get(f"{base}/security-groups/{{id}}", requires(NETWORK_READ)(_read(_group)))


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    row["network_id"] = row["id"]
    return row


async def _list_networks(request: web.Request, conn: Conn) -> Any:
    where, params = ["NOT n.deleted"], []
    if kind := _text(request, "type"):
        kinds = kind.split(",")
        if any(k not in TYPES for k in kinds):
            raise problems.invalid_param(f"type must be among {', '.join(TYPES)}, not {kind!r}")
        where.append("n.type = ANY(%s)")
        params.append(kinds)
    rows = await _rows(conn, f"{_NETWORK} WHERE {' AND '.join(where)} ORDER BY n.name", params)
    items = [_shape(r) for r in rows]
    return {"items": items, "next_cursor": None, "total": len(items)}


async def _network(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    rows = await _rows(conn, f"{_NETWORK} WHERE n.id = %s", [ident])
    if not rows:
        raise problems.not_found("network", ident)
    row = _shape(rows[0])
    row["vms"] = await _rows(
        conn,
        "SELECT a.vm_id, v.name, a.nic_id, a.ip, a.mac FROM network_addresses a"
        " LEFT JOIN vms v ON v.id = a.vm_id WHERE a.network_id = %s AND a.state = 'allocated'"
        " ORDER BY v.name, a.nic_id",
        [ident],
    )
    return row


async def _addresses(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    if not await _rows(conn, "SELECT id FROM networks WHERE id = %s", [ident]):
        raise problems.not_found("network", ident)
    items = await _rows(
        conn,
        "SELECT network_id, vm_id, nic_id, mac, ip, state, error, updated_at, seq"
        " FROM network_addresses WHERE network_id = %s"
        " ORDER BY state, string_to_array(coalesce(ip, '0.0.0.0'), '.')::int[], vm_id, nic_id",
        [ident],
    )
    return {"items": items, "next_cursor": None, "total": len(items)}


async def _with_rules(conn: Conn, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [g["id"] for g in groups]
    rules = await _rows(
        conn,
        "SELECT * FROM security_group_rules WHERE group_id = ANY(%s) ORDER BY group_id, position",
        [ids],
    )
    by_group: dict[str, list[dict[str, Any]]] = {}
    for r in rules:
        by_group.setdefault(r.pop("group_id"), []).append(r)
    for g in groups:
        g["group_id"] = g["id"]
        g["rules"] = by_group.get(g["id"], [])
        g["inbound"] = [r for r in g["rules"] if r["direction"] == "ingress"]
        g["outbound"] = [r for r in g["rules"] if r["direction"] == "egress"]
    return groups


async def _list_groups(request: web.Request, conn: Conn) -> Any:
    rows = await _rows(conn, "SELECT * FROM security_groups WHERE NOT deleted ORDER BY name", [])
    items = await _with_rules(conn, rows)
    return {"items": items, "next_cursor": None, "total": len(items)}


async def _group(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    rows = await _rows(conn, "SELECT * FROM security_groups WHERE id = %s", [ident])
    if not rows:
        raise problems.not_found("security group", ident)
    return (await _with_rules(conn, rows))[0]
