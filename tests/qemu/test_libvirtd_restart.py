"""libvirtd restarts under a running agent (docs/reliability.md, claim 5).

A real VM runs on ``qemu:///system``; libvirtd is stopped, an order (hard stop) is sent
while it is down, and libvirtd is started again. The order's task ends — succeeded after
the agent reconnected, or failed with its reason — and never hangs; the read model then
shows what libvirt shows; the host stays connected and the next order works.

Only a libvirtd this test session started itself is restarted, and only while no other
session shares it (its lock taken exclusively); a libvirtd that was already running
belongs to someone else and the test is skipped.
"""

from __future__ import annotations

import asyncio
import fcntl
import subprocess
import time

import libvirt
import pytest

from tests.integration.conftest import Stack
from tests.qemu import daemons, guest
from tests.qemu.conftest import Janitor, QemuStackFactory
from tests.qemu.stackops import TASK_TIMEOUT_S, create_vm, libvirt_state, run

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(420)]
STATE_OF = {libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_SHUTOFF: "stopped"}


def _libvirtd(running: daemons.Daemons) -> subprocess.Popen[bytes] | None:
    return next((p for p in running.started if p.args == ["libvirtd"]), None)


def _restart(running: daemons.Daemons, down_s: float) -> None:
    old = _libvirtd(running)
    assert old is not None
    old.terminate()
    old.wait(15)
    running.started.remove(old)
    time.sleep(down_s)
    running._spawn("libvirtd")
    deadline = time.monotonic() + daemons.START_TIMEOUT_S
    while not daemons.answers():
        assert time.monotonic() < deadline, f"libvirtd did not come back ({running.log_dir})"
        time.sleep(0.2)


async def _read_model_matches_libvirt(janitor: Janitor, stack: Stack, vm_id: str) -> str:
    """Poll until the VM's state in the read model is libvirt's; returns it."""
    shown = truth = ""
    for _ in range(150):
        truth = STATE_OF.get((await libvirt_state(janitor, vm_id))[0], "other")
        shown = (await stack.get(f"/api/v1/vms/{vm_id}"))["state"]
        if shown == truth:
            return truth
        await asyncio.sleep(0.2)
    raise AssertionError(f"read model shows {shown!r}, libvirt {truth!r}")


async def test_agent_rides_out_a_libvirtd_restart(
    qemu_stack: QemuStackFactory, janitor: Janitor, tiny_guest: guest.Guest, qemu_uri: str
) -> None:
    running = daemons.SESSION[0] if daemons.SESSION else None
    if running is None or _libvirtd(running) is None:
        pytest.skip("libvirtd was running before this session: it is not ours to restart")
    try:
        fcntl.flock(running.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pytest.skip("another test session uses this libvirtd right now")
    try:
        stack = await qemu_stack()
        vm_id = await create_vm(stack, janitor, tiny_guest)

        started = time.monotonic()
        restart = asyncio.create_task(asyncio.to_thread(_restart, running, 3.0))
        await asyncio.sleep(0.5)  # libvirtd is going down
        accepted = await stack.command("POST", f"/api/v1/vms/{vm_id}/actions/stop")
        await restart
        task = await stack.wait_task(accepted["task_id"], timeout=TASK_TIMEOUT_S + 30)
        print(
            f"\norder during the outage: {task['state']} ({task.get('error')}) "
            f"{time.monotonic() - started:.1f} s after libvirtd went down"
        )
        assert task["state"] in ("succeeded", "failed"), task
        if task["state"] == "failed":
            assert task["error"], task  # a reason, not a silent end

        # the janitor's connection died with libvirtd (its fixture still closes that one)
        janitor.conn = libvirt.open(qemu_uri)
        truth = await _read_model_matches_libvirt(janitor, stack, vm_id)
        assert truth == ("stopped" if task["state"] == "succeeded" else "running")
        hosts = (await stack.get("/api/v1/hosts"))["items"]
        assert [h["state"] for h in hosts] == ["connected"], hosts

        # the agent drives the new libvirtd: one more order each way
        verb = "start" if truth == "stopped" else "stop"
        await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/{verb}")
        after = await _read_model_matches_libvirt(janitor, stack, vm_id)
        assert after == ("running" if verb == "start" else "stopped")
    finally:
        fcntl.flock(running.lock, fcntl.LOCK_SH)
