"""Liveness: the agent's heartbeat in the ``lq_heartbeat`` KV bucket.

The controlplane marks a host disconnected when its key expires, so the heartbeat is only
written while the agent can reach both NATS and its hypervisor: a host whose libvirtd is
gone should look gone, not healthy.
"""

from __future__ import annotations

import asyncio
import logging

from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from events.base import utcnow
from events.bus import Bus
from events.errors import LqError
from events.reports import Heartbeat

log = logging.getLogger(__name__)


async def beat(bus: Bus, hypervisor: Hypervisor, host_id: str) -> bool:
    """Write one heartbeat; ``False`` (and a warning) when it could not be written."""
    try:
        domains = len(await hypervisor.list_managed())
    except AgentError as exc:
        log.warning("host_id=%s skips a heartbeat, hypervisor unreachable: %s", host_id, exc)
        return False
    try:
        await bus.put_heartbeat(Heartbeat(host_id=host_id, at=utcnow(), domains=domains))
    except LqError as exc:
        log.warning("host_id=%s could not write its heartbeat: %s", host_id, exc)
        return False
    return True


async def heartbeat_loop(bus: Bus, hypervisor: Hypervisor, host_id: str, interval_s: float) -> None:
    """Beat every ``interval_s`` seconds until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await beat(bus, hypervisor, host_id)
        await asyncio.sleep(max(0.0, interval_s - (loop.time() - started)))
