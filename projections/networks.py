"""Read models of virtual networks, their addresses and security groups.

Folded in the batch transaction with the checkpoint, row by row in SQL as the security
read models are: these events are rare next to VM events (an address per NIC, a rule per
change), so the in-memory working set of ``tables.Batch`` would buy nothing. Tables:
``networks`` (settings, reservations, per-host state, allocated count), ``network_addresses``
(one row per NIC that holds or failed to get an address), ``security_groups`` (with the
NICs they filter) and ``security_group_rules`` (ordered by ``position``).

A VM's own NIC rows (``vms.nics``) are not touched here: their ``ip`` is what the host
observes (H6's fold), which for a NIC on a LimiQuantix network is the allocated address
because the network's DHCP server has it as a static host entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from psycopg.types.json import Jsonb

from events import network as ne
from events import security_group as sg
from events.codec import StoredEvent
from projections.schema import Conn
from projections.tables import Change

Fold = Callable[[Conn, StoredEvent, Any], Awaitable[tuple[str, str] | None]]


async def _network(conn: Conn, se: StoredEvent, e: Any) -> tuple[str, str] | None:
    at, seq = se.envelope.occurred_at, se.seq
    nid = e.network_id
    match e:
        case ne.NetworkCreated():
            await conn.execute(
                "INSERT INTO networks (id, name, type, cidr, gateway, dns, dhcp, dhcp_start,"
                " dhcp_end, mtu, vlan_id, bridge, reservations, created_at, updated_at, seq)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (id) DO NOTHING",
                [
                    nid, e.name, e.network_type, e.cidr, e.gateway, Jsonb(e.dns), e.dhcp,
                    e.dhcp_start, e.dhcp_end, e.mtu, e.vlan_id, e.bridge,
                    Jsonb(msgspec.to_builtins(e.reservations)), at, at, seq,
                ],
            )  # fmt: skip
        case ne.NetworkUpdated():
            s = e.new
            await _set(
                conn, nid, se,
                "name = %s, dns = %s, dhcp = %s, dhcp_start = %s, dhcp_end = %s, mtu = %s",
                [s.name, Jsonb(s.dns), s.dhcp, s.dhcp_start, s.dhcp_end, s.mtu],
            )  # fmt: skip
        case ne.ReservationAdded():
            await _set(
                conn, nid, se, "reservations = reservations || jsonb_build_array(%s::jsonb)",
                [Jsonb(msgspec.to_builtins(e.reservation))],
            )  # fmt: skip
        case ne.ReservationRemoved():
            await _set(
                conn, nid, se,
                "reservations = (SELECT COALESCE(jsonb_agg(r), '[]') FROM"
                " jsonb_array_elements(reservations) AS r WHERE r->>'mac' <> %s)",
                [e.mac],
            )  # fmt: skip
        case ne.NetworkDeleted():
            await _set(conn, nid, se, "deleted = true", [])
        case ne.NetworkStateObserved():
            state = Jsonb({"state": e.state, "detail": e.detail, "at": at.isoformat()})
            await _set(
                conn,
                nid,
                se,
                "hosts = hosts || jsonb_build_object(%s::text, %s::jsonb)",
                [e.host_id, state],
            )
        case ne.AddressAllocated() | ne.AddressAllocationFailed():
            ok = isinstance(e, ne.AddressAllocated)
            ip = e.ip if isinstance(e, ne.AddressAllocated) else None
            reason = e.reason if isinstance(e, ne.AddressAllocationFailed) else ""
            await conn.execute(
                "INSERT INTO network_addresses (network_id, vm_id, nic_id, mac, ip, state, error,"
                " updated_at, seq) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (network_id, vm_id, nic_id) DO UPDATE SET mac = EXCLUDED.mac,"
                " ip = EXCLUDED.ip, state = EXCLUDED.state, error = EXCLUDED.error,"
                " updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq",
                [
                    nid, e.vm_id, e.nic_id, e.mac, ip,
                    "allocated" if ok else "failed", reason, at, seq,
                ],
            )  # fmt: skip
            await _count(conn, nid, se)
        case ne.AddressReleased():
            await conn.execute(
                "DELETE FROM network_addresses WHERE network_id = %s AND vm_id = %s"
                " AND nic_id = %s",
                [nid, e.vm_id, e.nic_id],
            )
            await _count(conn, nid, se)
    return "network", nid


async def _set(conn: Conn, nid: str, se: StoredEvent, sets: str, args: list[Any]) -> None:
    await conn.execute(
        f"UPDATE networks SET {sets}, updated_at = %s, seq = %s WHERE id = %s",
        [*args, se.envelope.occurred_at, se.seq, nid],
    )


async def _count(conn: Conn, nid: str, se: StoredEvent) -> None:
    await _set(
        conn,
        nid,
        se,
        "allocated = (SELECT count(*) FROM network_addresses a WHERE a.network_id = networks.id"
        " AND a.state = 'allocated')",
        [],
    )


async def _rules(conn: Conn, gid: str, rules: Sequence[sg.Rule]) -> None:
    await conn.execute("DELETE FROM security_group_rules WHERE group_id = %s", [gid])
    for i, r in enumerate(rules):
        await conn.execute(
            "INSERT INTO security_group_rules (group_id, rule_id, position, direction, protocol,"
            " port_min, port_max, cidr, remote_group_id, description)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            [
                gid, r.rule_id, i, r.direction, r.protocol, r.port_min, r.port_max, r.cidr,
                r.remote_group_id, r.description,
            ],
        )  # fmt: skip


async def _current_rules(conn: Conn, gid: str) -> list[sg.Rule]:
    cur = await conn.execute(
        "SELECT rule_id, direction, protocol, port_min, port_max, cidr, remote_group_id,"
        " description FROM security_group_rules WHERE group_id = %s ORDER BY position",
        [gid],
    )
    return [
        sg.Rule(
            rule_id=r[0], direction=r[1], protocol=r[2], port_min=r[3], port_max=r[4],
            cidr=r[5], remote_group_id=r[6], description=r[7],
        )
        for r in await cur.fetchall()
    ]  # fmt: skip


async def _group(conn: Conn, se: StoredEvent, e: Any) -> tuple[str, str] | None:
    at, seq = se.envelope.occurred_at, se.seq
    gid = e.group_id

    async def touch(sets: str = "", args: list[Any] | None = None) -> None:
        await conn.execute(
            f"UPDATE security_groups SET {sets + ', ' if sets else ''}updated_at = %s, seq = %s"
            " WHERE id = %s",
            [*(args or []), at, seq, gid],
        )

    match e:
        case sg.SecurityGroupCreated():
            await conn.execute(
                "INSERT INTO security_groups (id, name, description, created_at, updated_at, seq)"
                " VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING",
                [gid, e.name, e.description, at, at, seq],
            )
            await _rules(conn, gid, e.rules)
        case sg.SecurityGroupUpdated():
            await touch("name = %s, description = %s", [e.name, e.description])
        case sg.RuleAdded():
            rules = await _current_rules(conn, gid)
            rules.insert(e.position, e.rule)
            await _rules(conn, gid, rules)
            await touch()
        case sg.RuleRemoved():
            rules = [r for r in await _current_rules(conn, gid) if r.rule_id != e.rule_id]
            await _rules(conn, gid, rules)
            await touch()
        case sg.RulesReplaced():
            await _rules(conn, gid, e.rules)
            await touch()
        case sg.SecurityGroupDeleted():
            await touch("deleted = true")
        case sg.SecurityGroupApplied():
            ref = Jsonb({"vm_id": e.vm_id, "nic_id": e.nic_id})
            await touch("nics = nics || jsonb_build_array(%s::jsonb)", [ref])
        case sg.SecurityGroupRemoved():
            await touch(
                "nics = (SELECT COALESCE(jsonb_agg(n), '[]') FROM jsonb_array_elements(nics) AS n"
                " WHERE NOT (n->>'vm_id' = %s AND n->>'nic_id' = %s))",
                [e.vm_id, e.nic_id],
            )
    return "security_group", gid


FOLDS: dict[type, Fold] = {
    **dict.fromkeys(
        (
            ne.NetworkCreated, ne.NetworkUpdated, ne.ReservationAdded, ne.ReservationRemoved,
            ne.NetworkDeleted, ne.NetworkStateObserved, ne.AddressAllocated, ne.AddressReleased,
            ne.AddressAllocationFailed,
        ),
        _network,
    ),
    **dict.fromkeys(
        (
            sg.SecurityGroupCreated, sg.SecurityGroupUpdated, sg.RuleAdded, sg.RuleRemoved,
            sg.RulesReplaced, sg.SecurityGroupDeleted, sg.SecurityGroupApplied,
            sg.SecurityGroupRemoved,
        ),
        _group,
    ),
}  # fmt: skip


async def apply(conn: Conn, events: Sequence[StoredEvent]) -> list[Change]:
    """Fold the network and security-group events of a batch; the rows changed."""
    changed: dict[tuple[str, str], int] = {}
    for se in events:
        fold = FOLDS.get(type(se.envelope.event))
        if fold is None:
            continue
        key = await fold(conn, se, se.envelope.event)
        if key is not None:
            changed[key] = se.seq
    return [Change(kind, ident, seq) for (kind, ident), seq in changed.items()]
