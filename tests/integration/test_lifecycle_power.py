"""End to end on simulated hosts: reboot, pause, resume, graceful shutdown, hard stop."""

from __future__ import annotations

from tests.integration.conftest import StackFactory
from tests.integration.lifecycle import agent_of, events_of, make_vm, run, vm_view


async def test_power_operations_reach_libvirt_and_back(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack, start=True)
    vm = await vm_view(stack, vm_id)
    assert vm["state"] == "running"
    hv = agent_of(stack, vm["host_id"]).hypervisor

    reboot = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/reboot", json={})
    assert reboot["state"] == "succeeded", reboot
    assert reboot["operation"] == "vm.reboot"
    assert await hv.state(vm_id) == "running"

    pause = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/pause")
    assert pause["state"] == "succeeded", pause
    assert (await vm_view(stack, vm_id, pause["accepted"]["seq"]))["state"] in ("paused", "running")
    assert await hv.state(vm_id) == "paused"

    resume = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/resume")
    assert resume["state"] == "succeeded", resume
    assert await hv.state(vm_id) == "running"

    shutdown = await run(
        stack,
        "POST",
        f"/api/v1/vms/{vm_id}/actions/shutdown",
        json={"timeout_s": 30, "force_on_timeout": False},
    )
    assert shutdown["state"] == "succeeded", shutdown
    assert shutdown["operation"] == "vm.shutdown"
    assert await hv.state(vm_id) == "stopped"
    stopped = await events_of(stack, vm_id, "vm.stopped")
    assert stopped and stopped[-1]["data"]["forced"] is False
    requested = await events_of(stack, vm_id, "vm.stop_requested")
    assert requested[-1]["data"]["timeout_s"] == 30 and requested[-1]["data"]["force"] is False

    start = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/start")
    assert start["state"] == "succeeded", start
    stop = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/stop")
    assert stop["state"] == "succeeded", stop
    stopped = await events_of(stack, vm_id, "vm.stopped")
    assert stopped[-1]["data"]["forced"] is True
    vm = await vm_view(stack, vm_id, stop["accepted"]["seq"])
    assert vm["state"] == "stopped"


async def test_power_actions_in_the_wrong_state_are_refused(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack)
    before = (await stack.get("/ready"))["checks"]["stream_seq"]
    for verb, body in (
        ("shutdown", {}),
        ("reboot", {}),
        ("pause", None),
        ("resume", None),
        ("stop", None),
    ):
        status, problem, ctype = await stack.request(
            "POST", f"/api/v1/vms/{vm_id}/actions/{verb}", json=body
        )
        assert status == 409, (verb, problem)
        assert ctype.startswith("application/problem+json")
        assert problem["type"] == "urn:limiquantix:problem:invalid-state", problem
    assert (await stack.get("/ready"))["checks"]["stream_seq"] == before
