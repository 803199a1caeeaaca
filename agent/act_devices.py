"""Orders that change a defined VM: snapshots, disks, NICs, CPU/memory.

Each is idempotent by what it changes: a snapshot named by its id, a disk or NIC found by
its alias (``ua-<id>``) or MAC, a size already reached. Every answer carries the VM's
state afterwards and a note when the change is not everywhere (e.g. applied to the
definition only, on a hypervisor without hot-plug).
"""

from __future__ import annotations

import logging
from typing import Any

from agent import devxml, hv_devices, hv_snapshots, hv_storage
from agent.act_power import disk_dev
from agent.actions import Context, Result
from agent.devxml import NicDev
from agent.errors import PermanentError
from events import orders as o
from events.vm import VmState

log = logging.getLogger(__name__)
GIB = 1024**3


async def _state(ctx: Context, vm_id: str) -> VmState:
    state = await ctx.hv.state(vm_id)
    if state is None:
        raise PermanentError(f"no domain with id {vm_id}")
    return state


# --- snapshots --------------------------------------------------------------------------


async def create_snapshot(ctx: Context, body: o.CreateSnapshot) -> Result:
    await _state(ctx, body.vm_id)
    note = await ctx.hv.run_dom(
        _dom_only(hv_snapshots.create),
        body.vm_id,
        body.snapshot_id,
        body.description or body.name,
        body.memory,
        body.quiesce,
    )
    return Result(await _state(ctx, body.vm_id), note=note)


async def revert_snapshot(ctx: Context, body: o.RevertSnapshot) -> Result:
    await ctx.hv.run_dom(_dom_only(hv_snapshots.revert), body.vm_id, body.snapshot_id)
    return Result(await _state(ctx, body.vm_id))


async def delete_snapshot(ctx: Context, body: o.DeleteSnapshot) -> Result:
    if await ctx.hv.state(body.vm_id) is None:
        return Result("deleted", note="no such VM: nothing to delete")
    found = await ctx.hv.run_dom(_dom_only(hv_snapshots.delete), body.vm_id, body.snapshot_id)
    return Result(await _state(ctx, body.vm_id), note="" if found else "already deleted")


def _dom_only(fn: Any) -> Any:
    """Adapt ``fn(dom, ...)`` to ``run_dom``'s ``fn(conn, dom, ...)``."""

    def call(_conn: Any, dom: Any, *args: Any) -> Any:
        return fn(dom, *args)

    call.__name__ = fn.__name__
    return call


# --- disks ------------------------------------------------------------------------------


async def attach_disk(ctx: Context, body: o.AttachDisk) -> Result:
    state = await _state(ctx, body.vm_id)
    current = await ctx.hv.definition(body.vm_id)
    if devxml.find_disk(current, body.disk.disk_id) is not None:
        return Result(state, note="already attached")
    created: list[str] = []
    dev = await disk_dev(ctx, body.vm_id, body.disk, created=created)
    try:
        note = await ctx.hv.run_dom(
            hv_devices.change, body.vm_id, "attach", devxml.disk_element(dev)
        )
    except BaseException:
        for path in created:
            await ctx.hv.run(hv_storage.delete_path, path)
        raise
    return Result(await _state(ctx, body.vm_id), note=note)


async def detach_disk(ctx: Context, body: o.DetachDisk) -> Result:
    state = await ctx.hv.state(body.vm_id)
    if state is None:
        return Result("deleted", note="no such VM: nothing to detach")
    el = devxml.find_disk(await ctx.hv.definition(body.vm_id), body.disk_id)
    if el is None:
        return Result(state, note="already detached")
    if state != "stopped" and body.disk_id == "disk0":
        raise PermanentError("the boot disk of a running VM cannot be detached")
    note = await ctx.hv.run_dom(hv_devices.change, body.vm_id, "detach", el)
    path = devxml.disk_source(el)
    if body.delete_volume and path:
        if state != "stopped" and not note:
            live = await ctx.hv.run_dom(_dom_only(hv_devices.live_xml), body.vm_id)
            if devxml.find_disk(live, body.disk_id) is not None:
                return Result(
                    await _state(ctx, body.vm_id),
                    note="detached from the definition; the guest has not released it yet, "
                    "so its volume was kept",
                )
        await ctx.hv.run(hv_storage.delete_path, path)
    return Result(await _state(ctx, body.vm_id), note=note)


async def resize_disk(ctx: Context, body: o.ResizeDisk) -> Result:
    state = await _state(ctx, body.vm_id)
    el = devxml.find_disk(await ctx.hv.definition(body.vm_id), body.disk_id)
    if el is None:
        raise PermanentError(f"vm {body.vm_id} has no disk {body.disk_id}")
    path = devxml.disk_source(el)
    size = body.size_gib * GIB
    have = await ctx.hv.run(hv_storage.capacity, path)
    if have is None:
        raise PermanentError(f"disk {body.disk_id} has no volume in a storage pool")
    if size < have:
        raise PermanentError(f"disk {body.disk_id} is {have / GIB:g} GiB: shrinking is refused")
    if size == have:
        return Result(state, note="already that size")
    target = devxml.disk_target(el)
    note = await ctx.hv.run_dom(hv_devices.grow_disk, body.vm_id, target, path, size)
    return Result(await _state(ctx, body.vm_id), note=note)


# --- NICs -------------------------------------------------------------------------------


async def attach_nic(ctx: Context, body: o.AttachNic) -> Result:
    state = await _state(ctx, body.vm_id)
    current = await ctx.hv.definition(body.vm_id)
    if devxml.find_nic(current, body.nic.nic_id, body.nic.mac) is not None:
        return Result(state, note="already attached")
    network = await ctx.hv.run(hv_devices.network_for, body.nic.network_id)
    nic = NicDev(nic_id=body.nic.nic_id, mac=body.nic.mac, model=body.nic.model, network=network)
    note = await ctx.hv.run_dom(hv_devices.change, body.vm_id, "attach", devxml.nic_element(nic))
    return Result(await _state(ctx, body.vm_id), note=note)


async def detach_nic(ctx: Context, body: o.DetachNic) -> Result:
    state = await ctx.hv.state(body.vm_id)
    if state is None:
        return Result("deleted", note="no such VM: nothing to detach")
    el = devxml.find_nic(await ctx.hv.definition(body.vm_id), body.nic_id)
    if el is None:
        return Result(state, note="already detached")
    note = await ctx.hv.run_dom(hv_devices.change, body.vm_id, "detach", el)
    return Result(await _state(ctx, body.vm_id), note=note)


async def update_nic(ctx: Context, body: o.UpdateNic) -> Result:
    state = await _state(ctx, body.vm_id)
    el = devxml.find_nic(await ctx.hv.definition(body.vm_id), body.nic_id)
    if el is None:
        raise PermanentError(f"vm {body.vm_id} has no NIC {body.nic_id}")
    old = devxml.nic_of(el)
    network = await ctx.hv.run(hv_devices.network_for, body.network_id)
    if old.network == network:
        return Result(state, note="already on that network")
    new = NicDev(nic_id=body.nic_id, mac=old.mac, model=old.model, network=network)
    note = await ctx.hv.run_dom(
        hv_devices.change, body.vm_id, "update", devxml.nic_element(new), el
    )
    return Result(await _state(ctx, body.vm_id), note=note)


# --- CPU / memory -----------------------------------------------------------------------


async def resize_vm(ctx: Context, body: o.ResizeVm) -> Result:
    await _state(ctx, body.vm_id)
    if body.vcpus < 1 or body.memory_mib < 1:
        raise PermanentError("a VM needs at least one vCPU and 1 MiB")
    note = await ctx.hv.run_dom(
        _dom_only(hv_devices.resize), body.vm_id, body.vcpus, body.memory_mib, body.live
    )
    return Result(await _state(ctx, body.vm_id), note=note)
