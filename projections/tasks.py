"""The ``tasks`` read model: the user-visible life of each command (Recent Tasks).

Task events ride in the same message as the change they describe, so a task row is never
ahead of or behind its VM or host row. ``target_name`` is filled from the target's row
when the batch knows it (a VM created in the same message as its task counts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from events import task
from events.codec import StoredEvent
from projections.tables import Batch, Row

log = logging.getLogger(__name__)

Fold = Callable[[Batch, StoredEvent], None]


def _row(b: Batch, se: StoredEvent) -> Row | None:
    task_id = str(getattr(se.envelope.event, "task_id", ""))
    row = b.tasks.get(task_id)
    if row is None:
        log.warning("%s at seq %d for unknown task %s: skipped", se.envelope.type, se.seq, task_id)
    return row


def queued(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, task.TaskQueued)
    old = b.tasks.get(e.task_id)
    if old is not None:
        log.warning("task.queued at seq %d for existing task %s: skipped", se.seq, e.task_id)
        return
    row: Row = {
        "id": e.task_id,
        "operation": e.operation,
        "target_kind": e.target_kind,
        "target_id": e.target_id,
        # a volume is no row of the batch: its task names it in the description
        "target_name": e.description if e.target_kind == "volume" else None,
        "description": e.description,
        "state": "queued",
        "progress": 0,
        "message": "",
        "error": None,
        "actor": se.envelope.actor,
        "host_id": None,
        "created_at": se.envelope.occurred_at,
        "started_at": None,
        "finished_at": None,
    }
    b.tasks[e.task_id] = row
    b.touch("task", e.task_id, row, se)


def running(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, task.TaskRunning)
    row = _row(b, se)
    if row is not None:
        row.update(state="running", started_at=se.envelope.occurred_at)
        if e.host_id is not None:
            row["host_id"] = e.host_id
        b.touch("task", e.task_id, row, se)


def progressed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, task.TaskProgressed)
    row = _row(b, se)
    if row is not None:
        row["progress"] = max(0, min(100, e.percent))
        if e.message:
            row["message"] = e.message
        b.touch("task", e.task_id, row, se)


def _finish(b: Batch, row: Row, se: StoredEvent, state: str) -> None:
    row.update(state=state, finished_at=se.envelope.occurred_at)
    b.touch("task", row["id"], row, se)


def succeeded(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, task.TaskSucceeded)
    row = _row(b, se)
    if row is not None:
        row.update(progress=100, message=e.message or row["message"])
        _finish(b, row, se, "succeeded")


def failed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, task.TaskFailed)
    row = _row(b, se)
    if row is not None:
        row["error"] = e.error
        _finish(b, row, se, "failed")


def cancelled(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, task.TaskCancelled)
    row = _row(b, se)
    if row is not None:
        row["message"] = e.reason or row["message"]
        _finish(b, row, se, "cancelled")


def fill_target_names(b: Batch, task_ids: list[str]) -> None:
    """Name the targets of tasks queued by one message, once the whole message is folded.

    Done per message, not per batch, so the result never depends on how the stream was
    cut into batches (a live read model and a rebuild must agree).
    """
    for key in task_ids:
        row = b.tasks[key]
        if row["target_name"] is None:
            source = {"vm": b.vms, "host": b.hosts}.get(row["target_kind"], {})
            target = source.get(row["target_id"])
            if target is not None:
                row["target_name"] = target["name"]


FOLDS: dict[str, Fold] = {
    "task.queued": queued,
    "task.running": running,
    "task.progressed": progressed,
    "task.succeeded": succeeded,
    "task.failed": failed,
    "task.cancelled": cancelled,
}
