"""Placement: which hosts may take a VM, best first.

Filters drop hosts that are not connected or lack room (with overcommit applied); the
weigher spreads load by preferring the host with the largest free fraction of memory, then
of vCPUs. The final word is the host aggregate's reservation, which re-checks capacity
under optimistic concurrency — ranking only decides the order in which hosts are asked.
"""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.domain.host import Host


def rank(
    hosts: Iterable[Host], vcpus: int, memory_mib: int, reasons: list[str] | None = None
) -> list[Host]:
    """Hosts that can take ``vcpus``/``memory_mib`` now, best first; why others can't in
    ``reasons``."""
    fit: list[Host] = []
    for h in hosts:
        if h.state != "connected":
            if reasons is not None:
                reasons.append(f"host {h.name} is {h.state}")
            continue
        if not h.fits(vcpus, memory_mib):
            if reasons is not None:
                reasons.append(f"host {h.name} is full")
            continue
        fit.append(h)

    def free_fraction(h: Host) -> tuple[float, float, str]:
        mem = 1 - (h.allocated_memory_mib + memory_mib) / max(h.memory_capacity_mib, 1)
        cpu = 1 - (h.allocated_vcpus + vcpus) / max(h.vcpu_capacity, 1)
        return (-mem, -cpu, h.host_id)

    return sorted(fit, key=free_fraction)
