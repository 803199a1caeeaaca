"""Events of DRS recommendations (subject ``lq.evt.drs.<recommendation_id>``).

A DRS pass proposes moves that reduce a cluster's imbalance; each proposal is an
aggregate of its own with a short life: ``created`` → ``approved`` → ``applied`` (a
migration task exists), or ``rejected`` / ``expired``. ``priority`` runs from 1 (slight
gain) to 5 (strong gain); ``improvement`` is the drop of the imbalance (standard
deviation of host load, 0..1) expected from this move alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event

DrsMode = Literal["manual", "partial", "full"]
RecommendationState = Literal["pending", "approved", "rejected", "applied", "expired", "failed"]


class DrsRecommendationCreated(Event, frozen=True, kw_only=True, tag="drs.recommendation_created"):
    recommendation_id: str
    cluster_id: str = ""  # "" = every host (no clusters)
    vm_id: str
    from_host_id: str
    to_host_id: str
    priority: int
    improvement: float
    imbalance_before: float
    imbalance_after: float
    reason: str = ""
    expires_at: datetime
    load_basis: str = "allocation"  # "metrics" (measured load) or "allocation" (reservations)


class DrsRecommendationApproved(
    Event, frozen=True, kw_only=True, tag="drs.recommendation_approved"
):
    recommendation_id: str


class DrsRecommendationRejected(
    Event, frozen=True, kw_only=True, tag="drs.recommendation_rejected"
):
    recommendation_id: str
    reason: str = ""


class DrsRecommendationApplied(Event, frozen=True, kw_only=True, tag="drs.recommendation_applied"):
    """A migration task was opened for it (``task_id``): the move itself is that task."""

    recommendation_id: str
    task_id: str
    automatic: bool = False


class DrsRecommendationFailed(Event, frozen=True, kw_only=True, tag="drs.recommendation_failed"):
    """Applying it was refused (the VM is busy, gone, or already elsewhere)."""

    recommendation_id: str
    reason: str


class DrsRecommendationExpired(Event, frozen=True, kw_only=True, tag="drs.recommendation_expired"):
    recommendation_id: str
    reason: str = ""


DRS_EVENTS = (
    DrsRecommendationCreated
    | DrsRecommendationApproved
    | DrsRecommendationRejected
    | DrsRecommendationApplied
    | DrsRecommendationFailed
    | DrsRecommendationExpired
)
