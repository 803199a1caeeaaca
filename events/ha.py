"""Events of high availability: a host declared down, a host that fenced itself, and the
HA settings and restarts of a VM.

``host.marked_down`` and ``host.fenced`` travel on the host's subject; ``vm.ha_configured``,
``vm.ha_restarted`` and ``vm.ha_restart_failed`` on the VM's. They live in their own module
so that HA can grow without touching the lifecycle contract in ``events.vm``.

Values written to the KV buckets ``lq_host_lease`` (by each agent: its lease, renewed with
the heartbeat) and ``lq_ha_protection`` (by the controlplane: the HA-protected VMs of each
host) are defined here too: they are the contract between the agent's fencing and the
controlplane's restarts (docs/ha.md).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event


class HostMarkedDown(Event, frozen=True, kw_only=True, tag="host.marked_down"):
    """The host stayed disconnected longer than ``ha_down_grace_s``: its HA VMs may be
    restarted elsewhere once its lease has been expired longer than the fence time."""

    host_id: str
    reason: str = ""


class HostFenced(Event, frozen=True, kw_only=True, tag="host.fenced"):
    """The host's agent could not renew its lease for ``ha_fence_after_s`` and destroyed its
    HA-protected VMs (``vm_ids``) at ``fenced_at`` (agent clock); reported when it came back."""

    host_id: str
    fenced_at: datetime
    vm_ids: tuple[str, ...] = ()


class VmHaConfigured(Event, frozen=True, kw_only=True, tag="vm.ha_configured"):
    """HA protection switched on or off; a higher ``priority`` restarts first."""

    vm_id: str
    enabled: bool
    priority: int = 0


class VmHaRestarted(Event, frozen=True, kw_only=True, tag="vm.ha_restarted"):
    """The VM's host is down (or fenced it): it is defined and started on ``to_host_id``
    (task ``vm.ha_restart``; capacity is already reserved there)."""

    vm_id: str
    from_host_id: str
    to_host_id: str
    reason: str = ""


class VmHaRestartFailed(Event, frozen=True, kw_only=True, tag="vm.ha_restart_failed"):
    """No host could take the VM (admission control); HA keeps trying while it is down."""

    vm_id: str
    from_host_id: str
    reason: str


HA_EVENTS = HostMarkedDown | HostFenced | VmHaConfigured | VmHaRestarted | VmHaRestartFailed


class HostLease(msgspec.Struct, frozen=True, kw_only=True):
    """Value of the host's key in ``lq_host_lease``, written by its agent.

    ``renewed_at`` is when the write began (agent clock); the agent fences itself when it
    could not renew for ``fence_after_s``. ``protected`` is the set of VMs the agent will
    destroy when it fences (what it last read from ``lq_ha_protection``): the controlplane
    restarts only those. ``fenced_at``/``fenced`` report the last fencing once it is back.
    """

    host_id: str
    renewed_at: datetime
    fence_after_s: float
    protected: tuple[str, ...] = ()
    fenced_at: datetime | None = None
    fenced: tuple[str, ...] = ()


class HaProtection(msgspec.Struct, frozen=True, kw_only=True):
    """Value of the host's key in ``lq_ha_protection``: its HA-enabled VMs."""

    host_id: str
    vm_ids: tuple[str, ...] = ()


HOST_LEASE_DECODER = msgspec.json.Decoder(HostLease)
HA_PROTECTION_DECODER = msgspec.json.Decoder(HaProtection)
