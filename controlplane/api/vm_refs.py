"""Refusing VM disks and NICs that name storage or networks the VM cannot use.

A disk names a storage pool (``pool_id``, and maybe an existing ``volume`` of it) and a
NIC names a network (``network_id``): references to other aggregates, which the VM's own
pure decisions cannot see. The VM routes check them here, against the controlplane's
aggregate cache, before anything is appended, so that a bad reference is a problem
answered at once instead of a task that fails on its host:

- an unknown (or deleted) pool or network, or a volume the pool does not hold, is
  ``422`` (``unknown-pool``, ``unknown-volume``, ``unknown-network``);
- when the VM has a host (placed, or pinned with ``host_id``), a pool not attached to
  that host, or attached but ``inactive``, ``unreachable`` or in ``error`` there, is
  ``409 pool-not-on-host``, and a network its agent reported ``error`` or ``inactive``
  there is ``409 network-not-on-host``. A pool still ``pending`` on the host (attached a
  moment ago, being realised) passes: its host defines it as soon as it can.
- a NIC attached to a network with no free address left is ``409 address-exhausted``
  (attachments racing for the last addresses pass here, and the one that loses has its
  allocation failure recorded on the network: ``network.address_allocation_failed``).

``default`` names the host's own libvirt pool or network, which LimiQuantix does not
manage: it is accepted as it is. Where an unplaced VM goes is placement's business.
"""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.domain import network as net_domain
from controlplane.domain import storage_pool as pool_domain
from controlplane.repository import Repository
from events import problems
from events import vm as ve

UNMANAGED = "default"
POOL_USABLE = ("active", "pending")
"""Pool states on a host that let a VM disk be made there."""
NOT_ON_HOST = ("error", "inactive")
"""Network states on a host that mean the network is not there for a NIC."""


def _unknown(slug: str, detail: str) -> problems.Problem:
    return problems.Problem(422, slug, "The request cannot be carried out", detail)


def _host_name(repo: Repository, host_id: str) -> str:
    host = repo.host(host_id)
    return str(host.name) if host is not None else host_id


def check_disk(repo: Repository, pool_id: str, volume: str, host_id: str | None) -> None:
    """Refuse a disk on ``pool_id`` (``volume``: an existing one) for a VM on ``host_id``."""
    if pool_id == UNMANAGED:
        return
    pool: pool_domain.Pool | None = repo.get(pool_domain.KIND, pool_id)[0]
    if pool is None or pool.deleted:
        raise _unknown("unknown-pool", f"no storage pool {pool_id}")
    if volume and pool.by_name(volume) is None:
        raise _unknown("unknown-volume", f"storage pool {pool.name} has no volume {volume}")
    if host_id is None:
        return
    state = pool.hosts.get(host_id)
    if state is None:
        raise problems.conflict(
            f"storage pool {pool.name} is not attached to host {_host_name(repo, host_id)},"
            " where the VM is",
            slug="pool-not-on-host",
        )
    if state.state not in POOL_USABLE:
        why = f": {state.error}" if state.error else ""
        raise problems.conflict(
            f"storage pool {pool.name} is {state.state} on host {_host_name(repo, host_id)},"
            f" where the VM is{why}",
            slug="pool-not-on-host",
        )


def check_network(repo: Repository, network_id: str, host_id: str | None) -> None:
    """Refuse a NIC on ``network_id`` for a VM on ``host_id``."""
    if network_id == UNMANAGED:
        return
    net: net_domain.Network | None = repo.get(net_domain.KIND, network_id)[0]
    if net is None or net.deleted:
        raise _unknown("unknown-network", f"no network {network_id}")
    if host_id is None:
        return
    state = net.hosts.get(host_id)
    if state in NOT_ON_HOST:
        raise problems.conflict(
            f"network {net.name} is {state} on host {_host_name(repo, host_id)}, where the VM is",
            slug="network-not-on-host",
        )


def check_free_address(repo: Repository, network_id: str, mac: str) -> None:
    """Refuse a new NIC on a managed network whose range has no address left for it."""
    if network_id == UNMANAGED:
        return
    net: net_domain.Network | None = repo.get(net_domain.KIND, network_id)[0]
    if net is None or net.deleted or net_domain.free_address(net, mac) is not None:
        return
    raise problems.conflict(
        f"network {net.name} has no free address left in {net.dhcp_start}..{net.dhcp_end}"
        f" ({len(net.allocations)} allocated)",
        slug="address-exhausted",
    )


def check_parts(
    repo: Repository,
    disks: Iterable[ve.DiskSpec],
    nics: Iterable[ve.NicSpec],
    host_id: str | None,
) -> None:
    """Every disk and NIC of a new VM (``host_id``: the host it is pinned to, if any)."""
    for disk in disks:
        check_disk(repo, disk.pool_id, disk.volume, host_id)
    for nic in nics:
        check_network(repo, nic.network_id, host_id)


def vm_host(repo: Repository, vm_id: str) -> tuple[bool, str | None]:
    """``(exists, host)``: whether the VM is live, and the host it is on or pinned to."""
    vm = repo.vm(vm_id)
    if vm is None or vm.state == "deleted":
        return False, None
    host: str | None = vm.host_id or vm.pinned_host_id
    return True, host


def nic_of(repo: Repository, vm_id: str, nic_id: str) -> bool:
    vm = repo.vm(vm_id)
    return vm is not None and any(n.nic_id == nic_id for n in vm.nics)
