"""Task events: the user-visible life of one command (vCenter's Recent Tasks).

Task events travel inside the same message as the domain change they describe, on that
aggregate's subject, so a task's state can never disagree with the change (one decision =
one message). The task id is also the envelope's correlation id. States: ``queued``,
``running``, ``succeeded``, ``failed``, ``cancelled``.
"""

from __future__ import annotations

from typing import Literal

from events.base import Event

TaskState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class TaskQueued(Event, frozen=True, kw_only=True, tag="task.queued"):
    task_id: str
    operation: str  # e.g. "vm.create", "vm.start"
    target_kind: str
    target_id: str
    description: str = ""
    idempotency_key: str = ""


class TaskRunning(Event, frozen=True, kw_only=True, tag="task.running"):
    task_id: str
    host_id: str | None = None


class TaskProgressed(Event, frozen=True, kw_only=True, tag="task.progressed"):
    task_id: str
    percent: int
    message: str = ""


class TaskSucceeded(Event, frozen=True, kw_only=True, tag="task.succeeded"):
    task_id: str
    message: str = ""


class TaskFailed(Event, frozen=True, kw_only=True, tag="task.failed"):
    task_id: str
    error: str


class TaskCancelled(Event, frozen=True, kw_only=True, tag="task.cancelled"):
    task_id: str
    reason: str = ""


TASK_EVENTS = TaskQueued | TaskRunning | TaskProgressed | TaskSucceeded | TaskFailed | TaskCancelled
