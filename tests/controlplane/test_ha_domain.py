"""HA decisions as tables: host down and fencing, a VM's protection and its restart."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from controlplane.domain import host as hd
from controlplane.domain import vm as vd
from controlplane.domain import vm_ha
from controlplane.domain.errors import InvalidRequest, InvalidState, OperationInProgress
from events import ha
from events.base import Event
from tests.controlplane.test_host_domain import ENROLL, T0
from tests.controlplane.test_host_domain import fold as fold_host
from tests.controlplane.test_host_domain import given as given_host
from tests.controlplane.vm_fixtures import HOST, RUNNING, SPEC, STOPPED, fold, given, types


def vm_after(*events: list[Event]) -> vd.Vm:
    vm = fold([e for es in events for e in es])
    assert vm is not None
    return vm


# -- host ---------------------------------------------------------------------------


def test_a_disconnected_host_goes_down_then_back() -> None:
    events = given_host(ENROLL, hd.MarkDisconnected(reason="silent"))
    out = hd.decide(fold_host(events), hd.MarkDown(reason="no lease"))
    assert out == [ha.HostMarkedDown(host_id="h1", reason="no lease")]
    down = fold_host(events + out)
    assert down is not None and down.state == "down"
    assert hd.decide(down, hd.MarkDown(reason="again")) == []
    back = hd.decide(down, hd.MarkConnected())
    assert [type(e).__name__ for e in back] == ["HostConnected"]


def test_only_a_disconnected_host_can_go_down() -> None:
    assert hd.decide(fold_host(given_host(ENROLL)), hd.MarkDown(reason="x")) == []


def test_a_down_host_takes_no_reservation_and_re_enrols_connected() -> None:
    events = given_host(ENROLL, hd.MarkDisconnected(reason="s"), hd.MarkDown(reason="d"))
    with pytest.raises(Exception, match="down"):
        hd.decide(fold_host(events), hd.Reserve(vm_id="v", vcpus=1, memory_mib=1))
    again = hd.decide(fold_host(events), ENROLL)
    assert [type(e).__name__ for e in again] == ["HostConnected"]


def test_fencing_is_recorded_once_per_fencing() -> None:
    events = given_host(ENROLL)
    first = hd.RecordFencing(fenced_at=T0, vm_ids=("a",))
    out = hd.decide(fold_host(events), first)
    assert out == [ha.HostFenced(host_id="h1", fenced_at=T0, vm_ids=("a",))]
    host = fold_host(events + out)
    assert host is not None and host.fenced_at == T0
    assert hd.decide(host, first) == []
    later = hd.RecordFencing(fenced_at=T0 + timedelta(seconds=5))
    assert len(hd.decide(host, later)) == 1


# -- VM protection --------------------------------------------------------------------


def test_created_with_ha_and_configured_later() -> None:
    created = given(msgspec.structs.replace(SPEC, ha_enabled=True, ha_priority=7))
    vm = vm_after(created)
    assert (vm.ha_enabled, vm.ha_priority) == (True, 7)
    out = vm_ha.decide(vm, vm_ha.ConfigureHa(task_id="t9", enabled=False, priority=0))
    assert types(out) == ["vm.ha_configured", "task.queued", "task.succeeded"]
    off = vm_after(created, out)
    assert not off.ha_enabled and off.pending is None
    assert vm_ha.decide(off, vm_ha.ConfigureHa(task_id="t10", enabled=False)) == []


def test_protection_bounds_and_templates() -> None:
    vm = vm_after(given(*STOPPED))
    with pytest.raises(InvalidRequest):
        vm_ha.decide(vm, vm_ha.ConfigureHa(task_id="t", enabled=True, priority=10_000))
    template = vm_after(given(*STOPPED, vd.ConvertToTemplate(task_id="t2")))
    with pytest.raises(InvalidState):
        vm_ha.decide(template, vm_ha.ConfigureHa(task_id="t", enabled=True))


# -- restart ---------------------------------------------------------------------------


def ha_running() -> list[Event]:
    events = given(*RUNNING)
    return events + vm_ha.decide(
        vm_after(events), vm_ha.ConfigureHa(task_id="t-ha", enabled=True, priority=1)
    )


def test_restart_moves_the_vm_and_completes_like_a_creation() -> None:
    events = ha_running()
    restart = vm_ha.HaRestart(task_id="r1", from_host_id=HOST, to_host_id="host-2")
    out = vm_ha.decide(vm_after(events), restart)
    assert types(out) == ["vm.ha_restarted", "task.queued", "task.running"]
    moving = vm_after(events, out)
    assert moving.host_id == "host-2" and moving.state == "starting"
    assert moving.pending is not None and moving.pending.operation == "ha_restart"
    done = vd.decide(moving, vd.Complete(task_id="r1", host_id="host-2", state="running"))
    assert types(done) == ["vm.defined", "vm.started", "task.succeeded"]
    assert vm_after(events, out, done).state == "running"


def test_a_failed_restart_leaves_the_vm_in_error() -> None:
    events = ha_running()
    out = vm_ha.decide(
        vm_after(events), vm_ha.HaRestart(task_id="r1", from_host_id=HOST, to_host_id="h2")
    )
    failed = vd.decide(vm_after(events, out), vd.Fail(task_id="r1", reason="no disk"))
    assert vm_after(events, out, failed).state == "error"


def test_restart_refusals() -> None:
    events = ha_running()
    vm = vm_after(events)
    with pytest.raises(InvalidState, match="no longer"):
        vm_ha.decide(vm, vm_ha.HaRestart(task_id="r", from_host_id="other", to_host_id="h2"))
    unprotected = vm_after(given(*RUNNING))
    with pytest.raises(InvalidState, match="not HA"):
        vm_ha.decide(unprotected, vm_ha.HaRestart(task_id="r", from_host_id=HOST, to_host_id="h2"))
    busy = vm_after(events, vd.decide(vm, vd.Stop(task_id="s1")))
    with pytest.raises(OperationInProgress):
        vm_ha.decide(busy, vm_ha.HaRestart(task_id="r", from_host_id=HOST, to_host_id="h2"))


def test_a_stopped_vm_restarts_only_when_its_host_fenced_it() -> None:
    events = given(*STOPPED)
    events += vm_ha.decide(vm_after(events), vm_ha.ConfigureHa(task_id="h", enabled=True))
    vm = vm_after(events)
    plain = vm_ha.HaRestart(task_id="r", from_host_id=HOST, to_host_id=HOST)
    with pytest.raises(InvalidState, match="powered-on"):
        vm_ha.decide(vm, plain)
    fenced = msgspec.structs.replace(plain, fenced=True)
    assert types(vm_ha.decide(vm, fenced))[0] == "vm.ha_restarted"


def test_restart_failed_is_recorded_while_the_vm_is_still_there() -> None:
    vm = vm_after(ha_running())
    out = vm_ha.decide(vm, vm_ha.HaRestartFailed(from_host_id=HOST, reason="full"))
    assert types(out) == ["vm.ha_restart_failed"]
    assert vm_ha.decide(vm, vm_ha.HaRestartFailed(from_host_id="gone", reason="x")) == []
