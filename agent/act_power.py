"""Orders that make, power and remove a VM: define (volumes, clones, cloud-init seed,
domain), start, graceful or hard stop, reboot, pause, resume, delete.

Each is idempotent: define finds an existing domain (and existing volumes) and keeps
them, start/stop/pause/resume of a VM already there succeed, delete of a missing VM
succeeds and still removes volumes left behind by an interrupted earlier delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from urllib.parse import urlsplit

from agent import cloudinit, devxml, domxml, hv_devices, hv_power, hv_storage
from agent.actions import Context, GuestDidNotStop, Result
from agent.devxml import DiskDev, NicDev
from agent.errors import AgentError, PermanentError
from events import orders as o
from events.vm import CloneSource, DiskSpec, VmState

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 1.0
_LATE: set[asyncio.Future[bool]] = set()  # removals of copies finished after a cancel


async def define(ctx: Context, body: o.DefineVm) -> Result:
    hv = ctx.hv
    state = await hv.state(body.vm_id)
    note = ""
    if state is None:
        created: list[str] = []
        try:
            spec = await _spec(ctx, body, created)
            ctx.token.check()
            state = await hv.define(spec)
        except BaseException:
            await _remove(ctx, created)  # nothing half-done: volumes this order made go
            raise
        if body.clone_of is not None:
            note = "linked clone" if body.clone_of.linked else "full clone"
    else:
        note = "already defined"
    if body.start and state != "running":
        state = await hv.start(body.vm_id)
    return Result(state, note=note)


async def _remove(ctx: Context, paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(AgentError):
            await ctx.hv.run(hv_storage.delete_path, path)


def within_roots(path: str, roots: tuple[str, ...]) -> bool:
    """Whether ``path`` (symlinks resolved) lies under one of ``roots``: libvirt relabels
    and chowns a domain's boot files, so only files in directories meant for boot images
    may be named by a VM's definition."""
    real = os.path.realpath(path)
    return any(
        real == os.path.realpath(root) or real.startswith(os.path.realpath(root).rstrip("/") + "/")
        for root in roots
    )


async def _spec(ctx: Context, body: o.DefineVm, created: list[str]) -> domxml.VmSpec:
    hv = ctx.hv
    real = hv.domain_type != "test"
    loader = nvram = ""
    if body.firmware == "uefi":
        found = domxml.find_ovmf()
        if found is None and real:
            raise PermanentError(
                f"UEFI firmware asked for, but no OVMF images in {domxml.OVMF_DIR} on this host"
            )
        loader, nvram = found or (f"{domxml.OVMF_DIR}/OVMF_CODE.fd", "")
    for what, path in (("kernel", body.kernel), ("initrd", body.initrd)):
        if path and not within_roots(path, ctx.boot_roots):
            raise PermanentError(
                f"{what} {path} is outside the boot image directories of this host "
                f"({', '.join(ctx.boot_roots) or 'none configured'}; setting agent_boot_roots)"
            )
    if real and not urlsplit(hv.uri).hostname:  # a local host: its files are ours to see
        for what, path in (("kernel", body.kernel), ("initrd", body.initrd)):
            if path and not os.path.isfile(path):
                raise PermanentError(f"{what} {path} does not exist on this host")
    nics = []
    for nic in body.nics:
        network = await hv.run(hv_devices.network_for, nic.network_id)
        nics.append(NicDev(nic_id=nic.nic_id, mac=nic.mac, model=nic.model, network=network))
    disks = []
    for index, disk in enumerate(body.disks):
        ctx.token.check()
        disks.append(
            await disk_dev(
                ctx,
                body.vm_id,
                disk,
                created=created,
                clone_of=body.clone_of,
                index=index,
                count=len(body.disks),
            )
        )
    if body.cloud_init is not None:
        ctx.token.check()
        ci = body.cloud_init
        image = await asyncio.to_thread(
            cloudinit.seed_iso, body.vm_id, body.name, ci.user_data, ci.meta_data, ci.network_config
        )
        path = await hv.run(
            hv_storage.write, "default", hv.images_dir, hv_storage.seed_name(body.vm_id), image
        )
        created.append(path)
        bus, target = devxml.seed_target(body.machine)
        disks.append(
            DiskDev(
                disk_id=devxml.SEED_ID,
                path=path,
                bus=bus,
                device="cdrom",
                format="raw",
                target=target,
            )
        )
    return domxml.VmSpec(
        vm_id=body.vm_id,
        name=body.name,
        vcpus=body.vcpus,
        memory_mib=body.memory_mib,
        max_vcpus=body.max_vcpus,
        max_memory_mib=body.max_memory_mib,
        machine=body.machine or "pc",
        firmware=body.firmware,
        loader=loader,
        nvram_template=nvram,
        boot_order=tuple(body.boot_order),
        disks=tuple(disks),
        nics=tuple(nics),
        kernel=body.kernel,
        initrd=body.initrd,
        cmdline=body.cmdline,
    )


async def disk_dev(
    ctx: Context,
    vm_id: str,
    disk: DiskSpec,
    *,
    created: list[str],
    clone_of: CloneSource | None = None,
    index: int = 0,
    count: int = 1,
) -> DiskDev:
    """The volume behind one disk spec (existing, cloned, linked or new) as a device."""
    hv, images = ctx.hv, ctx.hv.images_dir
    fmt = "qcow2"
    if disk.volume:
        path, fmt = await hv.run(hv_storage.existing, disk.pool_id, images, disk.volume)
    elif disk.device == "cdrom":
        path, fmt = "", "raw"  # an empty drive
    else:
        name = hv_storage.volume_name(vm_id, disk.disk_id)
        source = None
        if clone_of is not None:
            source = await hv.run(
                hv_storage.source_of, clone_of.vm_id, disk.disk_id, disk.pool_id, images
            )
        if source is None:
            path, new = await hv.run(hv_storage.create, disk.pool_id, images, name, disk.size_gib)
        elif clone_of is not None and clone_of.linked:
            path, new = await hv.run(
                hv_storage.linked_clone,
                hv_storage.Where(disk.pool_id, images, name),
                source,
                disk.size_gib,
            )
        else:
            path, new = await _copy(ctx, disk, name, source, share=(index, count))
        if new:
            created.append(path)
    return DiskDev(
        disk_id=disk.disk_id,
        path=path,
        bus=disk.bus,
        device=disk.device,
        format=fmt,
        readonly=disk.device == "cdrom",
    )


async def _copy(
    ctx: Context, disk: DiskSpec, name: str, source: object, *, share: tuple[int, int]
) -> tuple[str, bool]:
    """A full copy on the long thread, reporting progress (by the target file's growth
    on a local host) until it is done. A cancel stops waiting; the copy in flight is
    removed once libvirt finishes it."""
    hv = ctx.hv
    where = hv_storage.Where(disk.pool_id, hv.images_dir, name)
    path, total, exists = await hv.run(hv_storage.clone_plan, where, source, disk.size_gib)
    if exists:
        return path, False
    copy = asyncio.ensure_future(hv.run_long(hv_storage.full_clone, where, source, disk.size_gib))
    index, count = share
    base, part = 100 * index // count, 100 // count
    await ctx.report(base, f"copying {disk.disk_id}")
    while not copy.done():
        done = await asyncio.wait({copy}, timeout=PROGRESS_EVERY_S)
        if ctx.token.cancelled and not done[0]:
            copy.add_done_callback(lambda f: _drop_late_copy(ctx, f))
            ctx.token.check()
        if not done[0] and total > 0:
            copied = await asyncio.to_thread(_allocated, path)
            await ctx.report(base + part * min(copied, total) // total, f"copying {disk.disk_id}")
    copied_path = copy.result()
    await ctx.report(base + part, f"copied {disk.disk_id}")
    return copied_path, True


def _allocated(path: str) -> int:
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return 0


def _drop_late_copy(ctx: Context, done: asyncio.Future[str]) -> None:
    if done.cancelled() or done.exception() is not None:
        return
    _LATE.add(asyncio.ensure_future(ctx.hv.run(hv_storage.delete_path, done.result())))
    for old in [t for t in _LATE if t.done()]:
        _LATE.discard(old)


async def start(ctx: Context, body: o.StartVm) -> Result:
    return Result(await ctx.hv.start(body.vm_id))  # a running domain stays as it is


async def stop(ctx: Context, body: o.StopVm) -> Result:
    hv = ctx.hv
    before = await hv.state(body.vm_id)
    if before is None:
        raise PermanentError(f"no domain with id {body.vm_id}")
    if body.force:
        state = await hv.stop(body.vm_id, force=True)
        return Result(state, forced=before != "stopped")
    if before == "stopped":
        return Result(before)
    timeout = float(body.timeout_s) if body.timeout_s > 0 else ctx.shutdown_timeout_s
    state = await hv.stop(body.vm_id, force=False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while state != "stopped" and loop.time() < deadline:
        await ctx.token.sleep(min(ctx.poll_interval_s, max(0.0, deadline - loop.time())))
        now = await hv.state(body.vm_id)
        state = "stopped" if now is None else now
    if state == "stopped":
        return Result(state)
    if body.force_on_timeout:
        state = await hv.stop(body.vm_id, force=True)
        return Result(
            state, forced=True, note=f"guest did not shut down within {timeout:g} s: powered off"
        )
    raise GuestDidNotStop(f"guest did not shut down within {timeout:g} s", state)


async def reboot(ctx: Context, body: o.RebootVm) -> Result:
    return Result(await ctx.hv.run_dom(hv_power.reboot, body.vm_id, body.force))


async def pause(ctx: Context, body: o.PauseVm) -> Result:
    return Result(await ctx.hv.run_dom(hv_power.pause, body.vm_id))


async def resume(ctx: Context, body: o.ResumeVm) -> Result:
    return Result(await ctx.hv.run_dom(hv_power.resume, body.vm_id))


async def delete(ctx: Context, body: o.DeleteVm) -> Result:
    """Undefine (snapshots and NVRAM included) and remove the VM's own volumes — the
    files named after it, never a shared image it had attached — unless ``keep_disks``."""
    hv = ctx.hv
    paths: list[str] = []
    if await hv.state(body.vm_id) is not None:
        paths = devxml.volume_paths(await hv.definition(body.vm_id))
        await hv.undefine(body.vm_id)
    note = ""
    if not body.keep_disks:
        for path in paths:
            if hv_storage.owned(path, body.vm_id):
                await hv.run(hv_storage.delete_path, path)
        await hv.run(hv_storage.delete_owned, "default", hv.images_dir, body.vm_id)
    elif paths:
        note = "volumes kept"
    state: VmState = "deleted"
    return Result(state, note=note)
