"""The DRS recommendation aggregate (pure): proposed, then approved, applied, rejected,
failed or expired.

A recommendation is a proposal, not a move: applying it opens a migration task (through
the migration entry point) and records that task here; the move itself succeeds or fails
on that task. Only a ``pending`` or ``approved`` recommendation can be acted on; an
ended one answers every further command with ``InvalidState`` (``recommendation-ended``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidState, UnknownAggregate
from events import drs as de
from events.base import Event
from events.codec import Envelope

KIND = "drs"
OPEN = frozenset({"pending", "approved"})


class Recommendation(msgspec.Struct, frozen=True, kw_only=True):
    recommendation_id: str
    cluster_id: str
    vm_id: str
    from_host_id: str
    to_host_id: str
    priority: int
    improvement: float
    expires_at: datetime
    state: de.RecommendationState = "pending"
    task_id: str | None = None
    created_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN


class Create(msgspec.Struct, frozen=True, kw_only=True):
    event: de.DrsRecommendationCreated


class Approve(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Reject(msgspec.Struct, frozen=True, kw_only=True):
    reason: str = ""


class MarkApplied(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    automatic: bool = False


class MarkFailed(msgspec.Struct, frozen=True, kw_only=True):
    reason: str


class Expire(msgspec.Struct, frozen=True, kw_only=True):
    reason: str = ""


Command = Create | Approve | Reject | MarkApplied | MarkFailed | Expire


def _require_open(rec: Recommendation, what: str) -> None:
    if not rec.open:
        raise InvalidState(
            f"recommendation {rec.recommendation_id} is {rec.state}: it cannot be {what}",
            slug="recommendation-ended",
        )


def decide(rec: Recommendation | None, command: Command) -> list[Event]:
    if isinstance(command, Create):
        if rec is not None:
            raise AlreadyExists(f"recommendation {rec.recommendation_id} exists")
        return [command.event]
    if rec is None:
        raise UnknownAggregate(KIND, "")
    rid = rec.recommendation_id
    match command:
        case Approve():
            if rec.state == "approved":
                return []
            _require_open(rec, "approved")
            return [de.DrsRecommendationApproved(recommendation_id=rid)]
        case Reject():
            if rec.state == "rejected":
                return []
            _require_open(rec, "rejected")
            return [de.DrsRecommendationRejected(recommendation_id=rid, reason=command.reason)]
        case MarkApplied():
            if rec.state == "applied" and rec.task_id == command.task_id:
                return []
            _require_open(rec, "applied")
            return [
                de.DrsRecommendationApplied(
                    recommendation_id=rid, task_id=command.task_id, automatic=command.automatic
                )
            ]
        case MarkFailed():
            _require_open(rec, "applied")
            return [de.DrsRecommendationFailed(recommendation_id=rid, reason=command.reason)]
        case Expire():
            if not rec.open:
                return []
            return [de.DrsRecommendationExpired(recommendation_id=rid, reason=command.reason)]
    raise TypeError(f"unknown command {command!r}")


def evolve(rec: Recommendation | None, env: Envelope) -> Recommendation | None:
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, de.DrsRecommendationCreated):
        return Recommendation(
            recommendation_id=e.recommendation_id,
            cluster_id=e.cluster_id,
            vm_id=e.vm_id,
            from_host_id=e.from_host_id,
            to_host_id=e.to_host_id,
            priority=e.priority,
            improvement=e.improvement,
            expires_at=e.expires_at,
            created_at=env.occurred_at,
        )
    if rec is None:
        return None
    match e:
        case de.DrsRecommendationApproved():
            return r(rec, state="approved")
        case de.DrsRecommendationRejected():
            return r(rec, state="rejected", ended_at=env.occurred_at)
        case de.DrsRecommendationApplied():
            return r(rec, state="applied", task_id=e.task_id, ended_at=env.occurred_at)
        case de.DrsRecommendationFailed():
            return r(rec, state="failed", ended_at=env.occurred_at)
        case de.DrsRecommendationExpired():
            return r(rec, state="expired", ended_at=env.occurred_at)
    return rec


def decider(command: Command) -> Callable[[Recommendation | None], list[Event]]:
    return lambda rec: decide(rec, command)
