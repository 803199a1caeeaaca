"""Removing a host from the inventory, as tables: when it is allowed, what it folds to."""

from __future__ import annotations

import pytest

from controlplane.domain import host as hd
from controlplane.domain import host_maintenance as hm
from controlplane.domain.errors import InvalidState, UnknownAggregate
from events.base import event_type
from events.host import HostRemoved
from tests.controlplane.test_host_domain import ENROLL, R1, fold, given

ENTER = hm.EnterMaintenance(task_id="t1")
ENTER_MOVING = hm.EnterMaintenance(task_id="t1", migrating=("v1",))
DOWN = hd.MarkDown(reason="lost")
GONE = hd.MarkDisconnected(reason="no heartbeat")
REMOVE = hm.Remove()
FORCE = hm.Remove(force=True)


@pytest.mark.parametrize(
    ("history", "command"),
    [
        ((ENROLL, ENTER), REMOVE),
        ((ENROLL, ENTER), FORCE),
        ((ENROLL, GONE), FORCE),
        ((ENROLL, GONE, DOWN), FORCE),
    ],
)
def test_an_idle_host_in_maintenance_or_lost_is_removed(
    history: tuple[hd.Command, ...], command: hm.Remove
) -> None:
    events = hd.decide(fold(given(*history)), command)
    assert [event_type(e) for e in events] == ["host.removed"]
    removed = events[0]
    assert isinstance(removed, HostRemoved)
    assert (removed.host_id, removed.name, removed.forced) == ("h1", "sim-1", command.force)


@pytest.mark.parametrize(
    ("history", "command", "slug"),
    [
        ((ENROLL,), REMOVE, "not-in-maintenance"),
        ((ENROLL,), FORCE, "not-in-maintenance"),  # a connected host: maintenance first
        ((ENROLL, GONE), REMOVE, "not-in-maintenance"),  # lost: only with force
        ((ENROLL, GONE, DOWN), REMOVE, "not-in-maintenance"),
        ((ENROLL, ENTER), hm.Remove(vm_ids=("v9",)), "host-has-vms"),
        ((ENROLL, GONE), hm.Remove(force=True, vm_ids=("v9",)), "host-has-vms"),
        ((ENROLL, ENTER_MOVING), REMOVE, "invalid-state"),  # still evacuating
    ],
)
def test_a_busy_or_live_host_is_not_removed(
    history: tuple[hd.Command, ...], command: hm.Remove, slug: str
) -> None:
    with pytest.raises(InvalidState) as refused:
        hd.decide(fold(given(*history)), command)
    assert refused.value.slug == slug


def test_the_refusal_names_the_vms() -> None:
    with pytest.raises(InvalidState, match="v1, v2"):
        hd.decide(fold(given(ENROLL, ENTER)), hm.Remove(vm_ids=("v1", "v2")))


def test_removal_ends_the_aggregate_and_enrolling_again_starts_afresh() -> None:
    history = given(ENROLL, R1, hm.SetLabels(labels={"rack": "r1"}), ENTER, REMOVE)
    assert fold(history) is None
    # nothing is released twice: the reservations went with the host
    assert hd.decide(None, hd.Release(vm_id="v1")) == []
    with pytest.raises(UnknownAggregate):
        hd.decide(None, ENTER)
    with pytest.raises(UnknownAggregate):
        hd.decide(None, R1)
    again = history + hd.decide(None, ENROLL)
    assert [event_type(e) for e in again[-1:]] == ["host.enrolled"]
    host = fold(again)
    assert host is not None
    assert (host.state, host.labels, host.reservations, host.cluster_id) == (
        "connected",
        {},
        {},
        None,
    )
