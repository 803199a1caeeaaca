"""The ``drs_recommendations`` read model: every DRS recommendation and where it stands.

Folded straight into SQL (one statement per event): recommendations are few and each
event touches one row. Names of the VM and both hosts are copied in when the
recommendation is created, so the DRS page draws "vm: from → to" without joins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from events import drs
from events.codec import StoredEvent
from projections.schema import Conn
from projections.tables import Change

_CREATE = (
    "INSERT INTO drs_recommendations (id, cluster_id, vm_id, vm_name, from_host_id,"
    " from_host_name, to_host_id, to_host_name, priority, improvement, imbalance_before,"
    " imbalance_after, reason, state, expires_at, created_at, updated_at, seq)"
    " VALUES (%(id)s, %(cluster_id)s, %(vm_id)s,"
    " (SELECT name FROM vms WHERE id = %(vm_id)s), %(from)s,"
    " (SELECT name FROM hosts WHERE id = %(from)s), %(to)s,"
    " (SELECT name FROM hosts WHERE id = %(to)s), %(priority)s, %(improvement)s,"
    " %(before)s, %(after)s, %(reason)s, 'pending', %(expires_at)s, %(at)s, %(at)s, %(seq)s)"
    " ON CONFLICT (id) DO NOTHING"
)
_UPDATE = (
    "UPDATE drs_recommendations SET state = %(state)s, task_id = COALESCE(%(task_id)s, task_id),"
    " automatic = automatic OR %(automatic)s, error = COALESCE(%(error)s, error),"
    " updated_at = %(at)s, seq = %(seq)s WHERE id = %(id)s AND seq < %(seq)s"
)


_DRS = frozenset(get_args(drs.DRS_EVENTS))


async def apply(conn: Conn, events: Sequence[StoredEvent]) -> list[Change]:
    """Fold the DRS events of a batch; the rows changed."""
    changed: dict[str, int] = {}
    for se in events:
        e = se.envelope.event
        if type(e) not in _DRS:
            continue
        at = se.envelope.occurred_at
        if isinstance(e, drs.DrsRecommendationCreated):
            await conn.execute(
                _CREATE,
                {
                    "id": e.recommendation_id,
                    "cluster_id": e.cluster_id,
                    "vm_id": e.vm_id,
                    "from": e.from_host_id,
                    "to": e.to_host_id,
                    "priority": e.priority,
                    "improvement": e.improvement,
                    "before": e.imbalance_before,
                    "after": e.imbalance_after,
                    "reason": e.reason,
                    "expires_at": e.expires_at,
                    "at": at,
                    "seq": se.seq,
                },
            )
        else:
            update = _update_of(e)
            if update is None:
                continue
            await conn.execute(_UPDATE, {**update, "at": at, "seq": se.seq})
        changed[str(getattr(e, "recommendation_id", ""))] = se.seq
    return [Change("drs_recommendation", ident, seq) for ident, seq in changed.items()]


def _update_of(e: object) -> dict[str, object] | None:
    base: dict[str, object] = {"task_id": None, "automatic": False, "error": None}
    match e:
        case drs.DrsRecommendationApproved():
            return {**base, "id": e.recommendation_id, "state": "approved"}
        case drs.DrsRecommendationRejected():
            return {
                **base,
                "id": e.recommendation_id,
                "state": "rejected",
                "error": e.reason or None,
            }
        case drs.DrsRecommendationApplied():
            return {
                **base,
                "id": e.recommendation_id,
                "state": "applied",
                "task_id": e.task_id,
                "automatic": e.automatic,
            }
        case drs.DrsRecommendationFailed():
            return {**base, "id": e.recommendation_id, "state": "failed", "error": e.reason}
        case drs.DrsRecommendationExpired():
            return {
                **base,
                "id": e.recommendation_id,
                "state": "expired",
                "error": e.reason or None,
            }
    return None
