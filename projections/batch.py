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
from collections.abc import Iterator, Sequence
from typing import Any

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

_FOLD_STEP = 100
"""Messages folded between two turns of the audit log's writer."""

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


_ID_FIELDS: dict[type, tuple[bool, bool, bool, bool, bool]] = {}


def _id_fields(cls: type) -> tuple[bool, bool, bool, bool, bool]:
    """Which of ``vm_id``, ``host_id``, ``to_host_id``, ``task_id``, ``target_kind`` an
    event class has (looked up once per class)."""
    found = _ID_FIELDS.get(cls)
    if found is None:
        names = set(getattr(cls, "__struct_fields__", ()))
        found = _ID_FIELDS[cls] = (
            "vm_id" in names,
            "host_id" in names,
            "to_host_id" in names,  # vm.migrated: the new host's name
            "task_id" in names,
            "target_kind" in names,
        )
    return found


def _wanted(
    events: Sequence[StoredEvent],
) -> tuple[set[str], set[str], set[str], set[tuple[str, str]]]:
    vm_ids: set[str] = set()
    host_ids: set[str] = set()
    task_ids: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for se in events:
        env = se.envelope
        tag = env.type
        if tag not in FOLDS:
            continue
        e: Any = env.event
        has_vm, has_host, has_to_host, has_task, has_target = _id_fields(type(e))
        vm_id = e.vm_id if has_vm else None
        host_id = e.host_id if has_host else None
        if isinstance(vm_id, str):
            vm_ids.add(vm_id)
        if isinstance(host_id, str):
            host_ids.add(host_id)
        if has_to_host and isinstance(e.to_host_id, str):
            host_ids.add(e.to_host_id)
        if has_task and isinstance(e.task_id, str):
            task_ids.add(e.task_id)
        if has_target:
            if e.target_kind == "vm":
                vm_ids.add(e.target_id)
            elif e.target_kind == "host":
                host_ids.add(e.target_id)
        if isinstance(vm_id, str) and tag.startswith("host.capacity_"):
            pairs.add((str(host_id), vm_id))
    return vm_ids, host_ids, task_ids, pairs


async def load(conn: Conn, events: Sequence[StoredEvent]) -> Batch:
    """The rows the events touch, loaded (nothing folded yet)."""
    vm_ids, host_ids, task_ids, pairs = _wanted(events)
    b = Batch()
    b.vms = await tables.load(conn, "vms", vm_ids)
    b.hosts = await tables.load(conn, "hosts", host_ids)
    b.tasks = await tables.load(conn, "tasks", task_ids)
    b.reservations = await tables.load_reservations(conn, pairs)
    return b


async def fold(conn: Conn, events: Sequence[StoredEvent]) -> Batch:
    """Load the rows the events touch and fold the events into them, in stream order."""
    b = await load(conn, events)
    fold_events(b, events)
    return b


def fold_events(b: Batch, events: Sequence[StoredEvent]) -> None:
    """Fold ``events`` (stream order, whole messages) into the rows already in ``b``.

    Pure: the projector calls it on rows loaded from the read model, the time-travel
    queries (``projections.history``) on rows folded from nothing."""
    for _ in fold_steps(b, events):
        pass


def fold_steps(b: Batch, events: Sequence[StoredEvent], every: int = 0) -> Iterator[None]:
    """``fold_events``, pausing (yielding) after every ``every`` messages (0: never), so
    a caller can let other work run between the steps."""
    queued: list[str] = []
    message = -1
    messages = 0
    for se in events:
        if se.seq != message:
            tasks.fill_target_names(b, queued)
            queued.clear()
            message = se.seq
            messages += 1
            if every and messages % every == 0:
                yield
        tag = se.envelope.type
        fn = FOLDS.get(tag)
        if fn is None:
            log.debug("unknown event type %s at seq %d: audit only", tag, se.seq)
            continue
        fn(b, se)
        if tag == "task.queued":
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
        batch = await load(conn, fresh)
        # the fold runs while PostgreSQL takes in the audit log's rows
        await tables.append_audit(conn, fresh, alongside=fold_steps(batch, fresh, _FOLD_STEP))
        await tables.store(conn, batch)
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
