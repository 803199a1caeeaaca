"""The ``clusters`` and ``affinity_rules`` read models.

A cluster row carries its HA/DRS settings and its resource pools (a small list, as
JSON); hosts and VMs point at it through ``hosts.cluster_id`` and ``vms.resource_pool_id``.
A deleted cluster or rule loses its row (its history stays in ``events``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from psycopg.types.json import Jsonb

from events import affinity as ae
from events import cluster as ce
from events.codec import StoredEvent
from projections.schema import Conn
from projections.tables import Change

Fold = Callable[[Conn, StoredEvent, Any], Awaitable[tuple[str, str] | None]]


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


async def _cluster(conn: Conn, se: StoredEvent, e: Any) -> tuple[str, str] | None:
    at, seq = se.envelope.occurred_at, se.seq
    match e:
        case ce.ClusterCreated():
            await conn.execute(
                "INSERT INTO clusters (id, name, description, ha, drs, pools, created_at,"
                " updated_at, seq) VALUES (%s, %s, %s, %s, %s, '[]', %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING",
                [e.cluster_id, e.name, e.description, Jsonb(_plain(e.ha)), Jsonb(_plain(e.drs)),
                 at, at, seq],
            )  # fmt: skip
        case ce.ClusterUpdated():
            await conn.execute(
                "UPDATE clusters SET name = %s, description = %s, ha = %s, drs = %s,"
                " updated_at = %s, seq = %s WHERE id = %s",
                [e.name, e.description, Jsonb(_plain(e.ha)), Jsonb(_plain(e.drs)), at, seq,
                 e.cluster_id],
            )  # fmt: skip
        case ce.ClusterDeleted():
            await conn.execute("DELETE FROM clusters WHERE id = %s", [e.cluster_id])
        case ce.ResourcePoolCreated() | ce.ResourcePoolUpdated():
            pool = _plain(e.pool)
            await conn.execute(
                "UPDATE clusters SET pools = (SELECT COALESCE(jsonb_agg(p), '[]') FROM"
                " jsonb_array_elements(pools) AS p WHERE p->>'pool_id' <> %s) || %s::jsonb,"
                " updated_at = %s, seq = %s WHERE id = %s",
                [e.pool.pool_id, Jsonb([pool]), at, seq, e.cluster_id],
            )
        case ce.ResourcePoolDeleted():
            await conn.execute(
                "UPDATE clusters SET pools = (SELECT COALESCE(jsonb_agg(p), '[]') FROM"
                " jsonb_array_elements(pools) AS p WHERE p->>'pool_id' <> %s),"
                " updated_at = %s, seq = %s WHERE id = %s",
                [e.pool_id, at, seq, e.cluster_id],
            )
        case _:
            return None
    return "cluster", e.cluster_id


async def _rule(conn: Conn, se: StoredEvent, e: Any) -> tuple[str, str] | None:
    at, seq = se.envelope.occurred_at, se.seq
    match e:
        case ae.AffinityRuleCreated():
            await conn.execute(
                "INSERT INTO affinity_rules (id, name, rule_type, enforcement, vm_ids, host_ids,"
                " enabled, created_at, updated_at, seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s) ON CONFLICT (id) DO NOTHING",
                [e.rule_id, e.name, e.rule_type, e.enforcement, Jsonb(list(e.vm_ids)),
                 Jsonb(list(e.host_ids)), e.enabled, at, at, seq],
            )  # fmt: skip
        case ae.AffinityRuleUpdated():
            await conn.execute(
                "UPDATE affinity_rules SET name = %s, enforcement = %s, vm_ids = %s,"
                " host_ids = %s, enabled = %s, updated_at = %s, seq = %s WHERE id = %s",
                [e.name, e.enforcement, Jsonb(list(e.vm_ids)), Jsonb(list(e.host_ids)),
                 e.enabled, at, seq, e.rule_id],
            )  # fmt: skip
        case ae.AffinityRuleDeleted():
            await conn.execute("DELETE FROM affinity_rules WHERE id = %s", [e.rule_id])
        case _:
            return None
    return "affinity_rule", e.rule_id


async def apply(conn: Conn, events: Sequence[StoredEvent]) -> list[Change]:
    """Fold the cluster and affinity events of a batch; the rows changed."""
    changed: dict[tuple[str, str], int] = {}
    for se in events:
        kind = se.envelope.aggregate_kind
        fold = _cluster if kind == "cluster" else _rule if kind == "affinity" else None
        if fold is None:
            continue
        key = await fold(conn, se, se.envelope.event)
        if key is not None:
            changed[key] = se.seq
    return [Change(kind, ident, seq) for (kind, ident), seq in changed.items()]
