"""The source host's part of a migration (``order.migrate_vm``).

``handoff`` (hosts on libvirt's test driver, which cannot migrate between two drivers):
the destination already defined and started the VM from its full spec, so the source
destroys and undefines its copy, keeping the volumes. ``p2p``: libvirt peer-to-peer
live migration to the destination's URI (``agent.hv_migrate``).
"""

from __future__ import annotations

from agent import hv_migrate
from agent.actions import Context, Result
from events import orders as o


async def migrate(ctx: Context, body: o.MigrateVm) -> Result:
    hv = ctx.hv
    if body.mode == "p2p":
        await hv.run_dom(hv_migrate.migrate_p2p, body.vm_id, body.to_uri, body.live)
        return Result("deleted", note=f"migrated to {body.to_host_id}")
    if await hv.state(body.vm_id) is not None:
        await hv.undefine(body.vm_id)
    return Result("deleted", note=f"handed off to {body.to_host_id}")
