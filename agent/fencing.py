"""Self-fencing: an agent that cannot renew its HA lease destroys its HA-protected VMs.

HA restarts a down host's VMs elsewhere; that is safe only if the copies on the lost host
are certainly gone. The agent guarantees it: it renews its lease (its key in
``lq_host_lease``) with every heartbeat, and when it could not renew for
``ha_fence_after_s`` — NATS unreachable, the host cut off — it destroys (powers off,
keeps defined) every VM it protects. The controlplane restarts a VM only once the host's
lease is older than the fence time plus a margin, and only if the lease listed the VM as
protected, so the cluster never runs two copies of one VM.

The protected set comes from ``lq_ha_protection`` (written by the controlplane's leader)
and is echoed in every lease, so the controlplane knows what the agent will fence. Until
a lease with a smaller set is written, the agent keeps fencing the larger one. The set
and the last fencing are kept in ``<state dir>/ha.json`` so that a restarted agent knows
them before it reaches NATS: an agent that comes back after its lease expired past the
fence time fences at once, before it reports its inventory (its VMs may run elsewhere by
now). The last fencing is reported in the lease (``fenced_at``/``fenced``) when it is back.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import msgspec

from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from events.base import utcnow
from events.bus import Bus
from events.errors import LqError
from events.ha import HostLease

log = logging.getLogger(__name__)

WATCH_S = 0.25  # how often the lease's age is checked


class _Saved(msgspec.Struct, kw_only=True):
    protected: list[str] = []
    fenced_at: datetime | None = None
    fenced: list[str] = []


class Fencer:
    """Renews this host's lease every ``interval_s`` and fences after ``fence_after_s``."""

    def __init__(
        self,
        bus: Bus,
        hypervisor: Hypervisor,
        host_id: str,
        state_dir: Path,
        *,
        interval_s: float,
        fence_after_s: float,
        persist: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.bus = bus
        self.hv = hypervisor
        self.host_id = host_id
        self.interval_s = max(0.1, interval_s)
        self.fence_after_s = fence_after_s
        self._persist = persist
        self._path = state_dir / "ha.json"
        saved = self._load()
        self.protected: set[str] = set(saved.protected)
        self.fenced_at: datetime | None = saved.fenced_at
        self.fenced: tuple[str, ...] = tuple(saved.fenced)
        self._last_ok = asyncio.get_running_loop().time()
        self._fenced_this_outage = False

    # -- start-up --

    async def fence_if_expired(self) -> bool:
        """On start: fence at once when this host's last lease expired past the fence time
        (the agent was dead or cut off; its VMs may have been restarted elsewhere)."""
        try:
            lease = await self.bus.host_lease(self.host_id)
        except LqError as exc:
            log.warning("host_id=%s cannot read its lease at start: %s", self.host_id, exc)
            return False
        if lease is None:
            return False
        self.protected |= set(lease.protected)
        age = (utcnow() - lease.renewed_at).total_seconds()
        if age <= self.fence_after_s:
            return False
        await self.fence(f"the lease was last renewed {age:.0f} s ago")
        return True

    # -- the loops --

    async def run(self) -> None:
        watch = asyncio.create_task(self._watch(), name="fencing-watch")
        try:
            await self._renew_loop()
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)

    async def _renew_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self.renew()
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - started)))

    async def renew(self) -> bool:
        """Read the protected set and write the lease; ``False`` when NATS did not take it."""
        started = asyncio.get_running_loop().time()
        try:
            protection = await self.bus.ha_protection(self.host_id)
            wanted = set(protection.vm_ids) if protection is not None else set(self.protected)
            if not wanted <= self.protected:  # protect the new ones before announcing them
                self.protected |= wanted
                self._save()
            await self.bus.put_host_lease(
                HostLease(
                    host_id=self.host_id,
                    renewed_at=utcnow(),
                    fence_after_s=self.fence_after_s,
                    protected=tuple(sorted(wanted)),
                    fenced_at=self.fenced_at,
                    fenced=self.fenced,
                )
            )
        except LqError as exc:
            log.warning("host_id=%s could not renew its HA lease: %s", self.host_id, exc)
            return False
        self._last_ok = started
        self._fenced_this_outage = False
        if wanted != self.protected:  # the lease now promises only ``wanted``
            self.protected = wanted
            self._save()
        return True

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_S)
            silent = loop.time() - self._last_ok
            if silent > self.fence_after_s and not self._fenced_this_outage:
                await self.fence(f"no lease renewal for {silent:.1f} s")

    async def fence(self, why: str) -> list[str]:
        """Destroy every protected VM that runs here; remember and report it."""
        self._fenced_this_outage = True
        destroyed: list[str] = []
        for vm_id in sorted(self.protected):
            try:
                state = await self.hv.state(vm_id)
                if state in ("running", "paused", "starting", "stopping"):
                    await self.hv.stop(vm_id, force=True)
                    destroyed.append(vm_id)
            except AgentError as exc:
                log.error("host_id=%s could not fence vm_id=%s: %s", self.host_id, vm_id, exc)
        self.fenced_at = utcnow()
        self.fenced = tuple(destroyed)
        self._save()
        if self._persist is not None:
            await self._persist()
        log.warning(
            "host_id=%s fenced itself (%s): destroyed %d HA VMs %s",
            self.host_id, why, len(destroyed), destroyed,
        )  # fmt: skip
        return destroyed

    # -- state file --

    def _load(self) -> _Saved:
        try:
            return msgspec.json.decode(self._path.read_bytes(), type=_Saved)
        except (OSError, msgspec.DecodeError):
            return _Saved()

    def _save(self) -> None:
        data = msgspec.json.encode(
            _Saved(
                protected=sorted(self.protected), fenced_at=self.fenced_at, fenced=list(self.fenced)
            )
        )
        tmp = self._path.with_suffix(".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self._path)
        except OSError as exc:
            log.error("host_id=%s cannot save %s: %s", self.host_id, self._path, exc)
