"""Creating a VM: checking its spec, and the spec of a copy (a clone, or a VM made from a
template) taken from its source's state.

Pure like the rest of the domain: the route picks the ids and MACs, these functions decide.
"""

from __future__ import annotations

from controlplane.domain.errors import InvalidRequest, InvalidState, UnknownAggregate
from controlplane.domain.vm_commands import Create
from controlplane.domain.vm_rules import KIND, MAX_DISKS, MAX_NICS, require_idle, task_queued
from controlplane.domain.vm_state import Vm
from events import vm as ve
from events.base import Event


def check_spec(c: Create) -> None:
    if len(c.disks) > MAX_DISKS:
        raise InvalidRequest(f"a VM has at most {MAX_DISKS} disks", slug="too-many-disks")
    if len(c.nics) > MAX_NICS:
        raise InvalidRequest(f"a VM has at most {MAX_NICS} NICs", slug="too-many-nics")
    if len({d.disk_id for d in c.disks}) != len(c.disks):
        raise InvalidRequest("disk ids must be unique")
    if len({n.nic_id for n in c.nics}) != len(c.nics):
        raise InvalidRequest("NIC ids must be unique")
    if len({n.mac.lower() for n in c.nics}) != len(c.nics):
        raise InvalidRequest("two NICs have the same MAC", slug="duplicate")
    for d in c.disks:
        if d.device == "disk" and not d.volume and d.size_gib < 1:
            raise InvalidRequest(f"{d.disk_id} needs size_gib of at least 1")
    if c.max_vcpus and c.max_vcpus < c.vcpus:
        raise InvalidRequest(f"max_vcpus {c.max_vcpus} is below vcpus {c.vcpus}")
    if c.max_memory_mib and c.max_memory_mib < c.memory_mib:
        raise InvalidRequest(f"max_memory_mib {c.max_memory_mib} is below memory_mib")
    if (c.initrd or c.cmdline) and not c.kernel:
        raise InvalidRequest("initrd and cmdline need a kernel (direct kernel boot)")
    if c.template and c.start:
        raise InvalidRequest("a template cannot be started", slug="is-template")


def create(c: Create) -> list[Event]:
    check_spec(c)
    return [
        ve.VmCreated(
            vm_id=c.vm_id,
            name=c.name,
            vcpus=c.vcpus,
            memory_mib=c.memory_mib,
            start=c.start,
            description=c.description,
            disks=c.disks,
            nics=c.nics,
            firmware=c.firmware,
            machine=c.machine,
            boot_order=c.boot_order,
            max_vcpus=c.max_vcpus,
            max_memory_mib=c.max_memory_mib,
            cloud_init=c.cloud_init,
            clone_of=c.clone_of,
            template=c.template,
            host_id=c.host_id,
            kernel=c.kernel,
            initrd=c.initrd,
            cmdline=c.cmdline,
            ha_enabled=c.ha_enabled,
            ha_priority=c.ha_priority,
            resource_pool_id=c.resource_pool_id,
            placement_labels=c.placement_labels,
        ),
        task_queued(c, "create", c.vm_id, c.name),
    ]


def clone_command(
    source: Vm | None,
    *,
    vm_id: str,
    task_id: str,
    name: str,
    macs: list[str],
    linked: bool = False,
    start: bool = False,
    vcpus: int | None = None,
    memory_mib: int | None = None,
    description: str | None = None,
    cloud_init: ve.CloudInit | None = None,
    idempotency_key: str = "",
) -> Create:
    """The creation of a copy of ``source`` (a VM or a template) on the source's host.

    The copy gets the source's spec with fresh MACs (one per source NIC, from the route),
    its disks copied (or qcow2-linked: templates only, so the backing files never change)
    and any override given here. Refused while the source runs or is busy.
    """
    if source is None or source.state == "deleted":
        raise UnknownAggregate(KIND, source.vm_id if source else "")
    require_idle(source)
    if source.state != "stopped" or source.host_id is None:
        raise InvalidState(f"vm {source.name} must be stopped to be cloned (it is {source.state})")
    if linked and not source.template:
        raise InvalidRequest(
            "linked clones are made from templates only (a VM's disks keep changing)",
            slug="linked-needs-template",
        )
    if len(macs) != len(source.nics):
        raise InvalidRequest("one MAC per NIC of the source is needed")
    cpus = vcpus or source.vcpus
    memory = memory_mib or source.memory_mib
    return Create(
        vm_id=vm_id,
        task_id=task_id,
        idempotency_key=idempotency_key,
        name=name,
        vcpus=cpus,
        memory_mib=memory,
        start=start,
        description=source.description if description is None else description,
        disks=tuple(
            d
            if d.device == "cdrom"
            else ve.DiskSpec(disk_id=d.disk_id, size_gib=d.size_gib, bus=d.bus, pool_id=d.pool_id)
            for d in source.disks
        ),
        nics=tuple(
            ve.NicSpec(nic_id=n.nic_id, mac=mac, network_id=n.network_id, model=n.model)
            for n, mac in zip(source.nics, macs, strict=True)
        ),
        firmware=source.firmware,
        machine=source.machine,
        boot_order=source.boot_order,
        max_vcpus=max(source.max_vcpus, cpus) if source.max_vcpus else 0,
        max_memory_mib=max(source.max_memory_mib, memory) if source.max_memory_mib else 0,
        cloud_init=cloud_init or source.cloud_init,
        clone_of=ve.CloneSource(vm_id=source.vm_id, linked=linked),
        host_id=source.host_id,
        kernel=source.kernel,
        initrd=source.initrd,
        cmdline=source.cmdline,
    )
