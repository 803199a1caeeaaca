"""Reconciliation: what the host really has, compared with what the agent last reported.

libvirt lifecycle events already report most changes as they happen (a crash, a guest
that powered itself off, ``virsh suspend``, a domain undefined behind LimiQuantix's back).
Events can be missed, though (libvirtd restarted, the agent's connection dropped, a
burst that overflowed the queue), so every ``agent_sweep_interval_s`` the agent lists its
managed domains and reports each one whose state differs from the last one it reported,
and each one that vanished, as ``DomainChanged`` with the cause. The same sweep asks
libvirt which IP address each NIC of a running VM holds (DHCP leases of its network, else
the ARP table, else the guest agent) and reports ``NicAddress`` when one changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agent import hv_devices
from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from events.reports import AnyReport, DomainChanged, DomainSeen, NicAddress
from events.vm import VmState

log = logging.getLogger(__name__)
Send = Callable[[AnyReport], Awaitable[None]]


class Reconciler:
    """Remembers the last state reported per VM (and address per NIC) and reports drift."""

    def __init__(self, hypervisor: Hypervisor, send: Send) -> None:
        self.hypervisor = hypervisor
        self.send = send
        self.reported: dict[str, VmState] = {}
        self.addresses: dict[tuple[str, str], str] = {}

    def inventory(self, domains: list[DomainSeen]) -> None:
        """The inventory sent on start is the baseline."""
        self.reported = {_key(d.vm_id): d.state for d in domains}

    def seen(self, vm_id: str, state: VmState) -> None:
        """A lifecycle event reported ``state`` for ``vm_id``."""
        self.reported[_key(vm_id)] = state

    async def sweep(self) -> int:
        """One comparison; returns how many reports it sent."""
        hv, sent = self.hypervisor, 0
        now = {_key(d.vm_id): d.state for d in await hv.list_managed()}
        for vm_id, state in now.items():
            if self.reported.get(vm_id) == state:
                continue
            found = await hv.state_reason(vm_id)
            if found is None or found[0] != state:
                continue  # changed again while we looked: the next sweep sees it settled
            reason = f"observed by sweep: {found[1]}" if found[1] else "observed by sweep"
            await self._report(DomainChanged(vm_id=vm_id, state=state, reason=reason))
            sent += 1
        for vm_id, state in list(self.reported.items()):
            if vm_id in now:
                continue
            if state != "deleted":
                body = DomainChanged(
                    vm_id=vm_id, state="deleted", reason="no longer defined on the host"
                )
                await self._report(body)
                sent += 1
            del self.reported[vm_id]
        sent += await self._sweep_addresses([v for v, s in now.items() if s == "running"])
        return sent

    async def _report(self, body: DomainChanged) -> None:
        log.info("vm_id=%s drifted to %s (%s)", body.vm_id, body.state, body.reason)
        await self.send(body)
        self.reported[_key(body.vm_id)] = body.state

    async def _sweep_addresses(self, running: list[str]) -> int:
        found: dict[tuple[str, str], str] = {}
        unknown: set[str] = set()
        for vm_id in running:
            try:
                ips = await self.hypervisor.run_dom(_addresses, vm_id)
            except AgentError as exc:
                log.debug("no addresses for vm_id=%s: %s", vm_id, exc)
                unknown.add(vm_id)  # cannot tell now: keep what was reported
                continue
            for nic_id, ip in ips.items():
                found[(vm_id, nic_id)] = ip
        sent = 0
        for key in set(found) | set(self.addresses):
            if key[0] in unknown:
                continue
            ip = found.get(key, "")
            if self.addresses.get(key, "") == ip:
                continue
            await self.send(NicAddress(vm_id=key[0], nic_id=key[1], ip=ip))
            sent += 1
            if ip:
                self.addresses[key] = ip
            else:
                self.addresses.pop(key, None)
        return sent


def _addresses(_conn: Any, dom: Any) -> dict[str, str]:
    return hv_devices.addresses(dom)


def _key(vm_id: str) -> str:
    return vm_id.lower()
