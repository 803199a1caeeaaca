"""HA tests use the operations tests' real-process deployment and the in-process stack."""

import asyncio

from events.bus import Bus
from tests.integration.conftest import make_stack
from tests.operate.conftest import deployment

__all__ = ["deployment", "make_stack", "wait_lease_protects"]


async def wait_lease_protects(nats_url: str, host_id: str, vm_ids: set[str]) -> None:
    """Until the host's agent has announced in its lease that it protects exactly
    ``vm_ids``: what the controlplane restarts after the host is lost."""
    bus = await Bus.connect(nats_url, name="lq-test")
    try:
        async with asyncio.timeout(30):
            while True:
                lease = (await bus.host_leases()).get(host_id)
                if lease is not None and set(lease.protected) == vm_ids:
                    return
                await asyncio.sleep(0.1)
    finally:
        await bus.close()
