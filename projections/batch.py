"""Apply one batch of stored events to the read model in one transaction.

``apply_batch`` is the heart of the read side and needs no NATS: tests call it with
constructed events. In a single transaction it takes the apply lock, reads the checkpoint,
drops every event at or below it (so a batch delivered twice applies once), folds the rest
in memory in stream order, writes the changed rows, appends every event to the audit log,
moves the checkpoint to the batch's last sequence and queues ``NOTIFY lq_changes``, which
PostgreSQL delivers only if the transaction commits. Events of types this version does not
know are kept in the audit log and otherwise ignored, so an older projector survives a
newer writer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import msgspec

from events.codec import StoredEvent
from projections import (
    clusters,
    drs,
    ha,
    hosts,
    networks,
    placement,
    security,
    storage,
    tables,
    tasks,
    vms,
)
from projections.schema import APPLY_LOCK_HERE, CHECKPOINT, Conn
from projections.tables import Batch, Change

log = logging.getLogger(__name__)

CHANNEL = "lq_changes"
MAX_PAYLOAD = 7500
"""Bytes; PostgreSQL refuses NOTIFY payloads of 8000 bytes or more."""

FOLDS = {**vms.FOLDS, **hosts.FOLDS, **tasks.FOLDS, **ha.FOLDS, **placement.FOLDS}


class CheckpointRewound(Exception):
    """The schema's checkpoint is behind what this projector applied (the read model was
    replaced under it); the projector must resume reading after ``checkpoint``."""

    def __init__(self, checkpoint: int) -> None:
        super().__init__(f"read-model checkpoint moved back to {checkpoint}")
        self.checkpoint = checkpoint


_encoder = msgspec.json.Encoder()


def notify_payload(seq: int, changes: Sequence[Change]) -> str:
    """The ``lq_changes`` payload, or its overflow form when it would not fit."""
    body = _encoder.encode({"seq": seq, "changes": changes})
    if len(body) > MAX_PAYLOAD:
        body = _encoder.encode({"seq": seq, "overflow": True})
    return body.decode()


def _wanted(
    events: Sequence[StoredEvent],
) -> tuple[set[str], set[str], set[str], set[tuple[str, str]]]:
    vm_ids: set[str] = set()
    host_ids: set[str] = set()
    task_ids: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for se in events:
        e = se.envelope.event
        if se.envelope.type not in FOLDS:
            continue
        vm_id = getattr(e, "vm_id", None)
        host_id = getattr(e, "host_id", None)
        if isinstance(vm_id, str):
            vm_ids.add(vm_id)
        if isinstance(host_id, str):
            host_ids.add(host_id)
        to_host_id = getattr(e, "to_host_id", None)  # vm.migrated: the new host's name
        if isinstance(to_host_id, str):
            host_ids.add(to_host_id)
        task_id = getattr(e, "task_id", None)
        if isinstance(task_id, str):
            task_ids.add(task_id)
        target_kind = getattr(e, "target_kind", None)
        if target_kind == "vm":
            vm_ids.add(e.target_id)  # type: ignore[union-attr]
        elif target_kind == "host":
            host_ids.add(e.target_id)  # type: ignore[union-attr]
        if se.envelope.type.startswith("host.capacity_") and isinstance(vm_id, str):
            pairs.add((str(host_id), vm_id))
    return vm_ids, host_ids, task_ids, pairs


async def fold(conn: Conn, events: Sequence[StoredEvent]) -> Batch:
    """Load the rows the events touch and fold the events into them, in stream order."""
    vm_ids, host_ids, task_ids, pairs = _wanted(events)
    b = Batch()
    b.vms = await tables.load(conn, "vms", vm_ids)
    b.hosts = await tables.load(conn, "hosts", host_ids)
    b.tasks = await tables.load(conn, "tasks", task_ids)
    b.reservations = await tables.load_reservations(conn, pairs)
    fold_events(b, events)
    return b


def fold_events(b: Batch, events: Sequence[StoredEvent]) -> None:
    """Fold ``events`` (stream order, whole messages) into the rows already in ``b``.

    Pure: the projector calls it on rows loaded from the read model, the time-travel
    queries (``projections.history``) on rows folded from nothing."""
    queued: list[str] = []
    message = -1
    for se in events:
        if se.seq != message:
            tasks.fill_target_names(b, queued)
            queued.clear()
            message = se.seq
        fn = FOLDS.get(se.envelope.type)
        if fn is None:
            log.debug("unknown event type %s at seq %d: audit only", se.envelope.type, se.seq)
            continue
        fn(b, se)
        if se.envelope.type == "task.queued":
            queued.append(se.envelope.event.task_id)  # type: ignore[union-attr]
    tasks.fill_target_names(b, queued)


async def apply_batch(
    conn: Conn,
    events: Sequence[StoredEvent],
    *,
    expected: int | None = None,
    notify: bool = True,
) -> list[Change]:
    """Apply ``events`` (stream order, whole messages) with the checkpoint, atomically.

    Returns the changed rows (empty when everything was already applied). ``expected``
    is the checkpoint the caller believes is current: a lower one raises
    ``CheckpointRewound`` and applies nothing. The connection's search path selects the
    read model; the caller's transaction, if any, becomes a savepoint.
    """
    if not events:
        return []
    async with conn.transaction():
        await conn.execute(APPLY_LOCK_HERE)
        cur = await conn.execute(
            "SELECT seq FROM checkpoint WHERE name = %s FOR UPDATE", [CHECKPOINT]
        )
        row = await cur.fetchone()
        done = int(row[0]) if row else 0
        if expected is not None and done < expected:
            raise CheckpointRewound(done)
        fresh = [se for se in events if se.seq > done]
        if not fresh:
            return []
        batch = await fold(conn, fresh)
        await tables.store(conn, batch)
        await tables.append_audit(conn, fresh)
        last = max(se.seq for se in fresh)
        await conn.execute(
            "INSERT INTO checkpoint (name, seq) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq",
            [CHECKPOINT, last],
        )
        changes = batch.changes() + await security.apply(conn, fresh)
        changes += await storage.apply(conn, fresh)
        changes += await networks.apply(conn, fresh)
        changes += await drs.apply(conn, fresh)
        changes += await clusters.apply(conn, fresh)
        if notify:
            await conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, notify_payload(last, changes)])
    return changes
