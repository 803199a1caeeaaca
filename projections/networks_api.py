"""Query routes of virtual networks and security groups.

Read from ``networks``, ``network_addresses``, ``security_groups`` and
``security_group_rules`` (``projections.networks``) through the same ``_read`` wrapper as
every other GET, so ``?min_seq=`` gives read-your-writes after a change. A network shows
its DHCP settings, per-host state and the VMs connected to it (from its addresses); a
group its rules in order, split into inbound and outbound for the dashboard, and the
NICs it filters. Lists follow ``events.listing``; they are small (tens of networks), so
their default page is the largest one.
"""

from __future__ import annotations

from typing import Any

import psycopg
from aiohttp import web

from events import problems
from events.listing import Filter, Listing, listed, page_rows
from events.permissions import NETWORK_READ, requires
from projections import queries
from projections.api import _read
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


NETWORK_LISTING = Listing(
    keys={"name": "text", "type": "text", "created_at": "timestamptz", "connected_vms": "bigint"},
    default_sort="name",
    filters={
        "type": Filter("enum", TYPES, "type = ANY(%s)", "comma-separated"),
        "q": Filter("search", sql="name ILIKE %s", description="name substring"),
    },
    default_limit=500,
)


@listed(NETWORK_LISTING)
async def _list_networks(request: web.Request, conn: Conn) -> Any:
    asked = NETWORK_LISTING.parse(request.query)
    out = await queries.listing_page(conn, f"({_NETWORK} WHERE NOT n.deleted) nw", asked)
    out["items"] = [_shape(r) for r in out["items"]]
    return out


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


ADDRESS_LISTING = Listing(
    keys={"ip": "inet", "state": "text", "mac": "text", "vm_id": "text"},
    default_sort="ip",
    filters={"state": Filter("enum", ("allocated", "failed"), description="comma-separated")},
    default_limit=500,
    tiebreak=(("vm_id", "text"), ("nic_id", "text")),
)


@listed(ADDRESS_LISTING)
async def _addresses(request: web.Request, conn: Conn) -> Any:
    asked = ADDRESS_LISTING.parse(request.query)
    ident = request.match_info["id"]
    if not await _rows(conn, "SELECT id FROM networks WHERE id = %s", [ident]):
        raise problems.not_found("network", ident)
    items = await _rows(
        conn,
        "SELECT network_id, vm_id, nic_id, mac, ip, state, error, updated_at, seq"
        " FROM network_addresses WHERE network_id = %s",
        [ident],
    )
    if states := asked.filters["state"]:
        items = [i for i in items if i["state"] in states]
    return page_rows(items, asked)


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


GROUP_LISTING = Listing(
    keys={"name": "text", "created_at": "timestamptz"},
    default_sort="name",
    filters={"q": Filter("search", sql="name ILIKE %s", description="name substring")},
    default_limit=500,
)


@listed(GROUP_LISTING)
async def _list_groups(request: web.Request, conn: Conn) -> Any:
    asked = GROUP_LISTING.parse(request.query)
    out = await queries.listing_page(
        conn, "security_groups", asked, where=["NOT deleted"], columns="*"
    )
    out["items"] = await _with_rules(conn, out["items"])
    return out


async def _group(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    rows = await _rows(conn, "SELECT * FROM security_groups WHERE id = %s", [ident])
    if not rows:
        raise problems.not_found("security group", ident)
    return (await _with_rules(conn, rows))[0]
