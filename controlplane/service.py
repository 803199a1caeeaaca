"""Wiring of the controlplane inside an aiohttp app: resources and background jobs.

``setup`` registers one ``cleanup_ctx`` that connects to NATS, provisions the streams,
rebuilds the aggregate cache, then runs the process managers, the report consumer, the
enrolment responder and the liveness/deadline watcher until the app stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from controlplane.agents import AgentLink
from controlplane.api import vms
from controlplane.api.common import COMMANDS, Commands
from controlplane.handlers import Handler
from controlplane.processes import VmProcess
from controlplane.repository import Repository
from events.bus import Bus
from events.settings import Settings

log = logging.getLogger(__name__)

BUS: web.AppKey[Bus] = web.AppKey("lq_controlplane_bus", Bus)


def setup(app: web.Application, settings: Settings) -> None:
    app.add_routes(vms.routes)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        bus = await Bus.connect(settings.nats_url, name="controlplane", reconnect_forever=True)
        tasks: list[asyncio.Task[None]] = []
        repo = Repository(bus.store)
        try:
            await bus.provision(settings)
            await repo.start()
            handler = Handler(repo, bus.store, retries=settings.append_retries)
            app[BUS] = bus
            app[COMMANDS] = Commands(repo=repo, handler=handler)
            link = AgentLink(bus, handler, settings)
            await link.serve_enrolment()
            process = VmProcess(bus, handler, settings)
            tasks = [
                asyncio.create_task(process.run(), name="vm-process"),
                asyncio.create_task(link.consume_reports(), name="reports"),
                asyncio.create_task(link.watch(), name="liveness"),
            ]
            yield
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await repo.stop()
            await bus.close()

    app.cleanup_ctx.append(lifecycle)


async def readiness(app: web.Application) -> dict[str, Any]:
    bus = app.get(BUS)
    cmds = app.get(COMMANDS)
    return {
        "nats": bool(bus is not None and bus.connected),
        "stream_seq": cmds.repo.seq if cmds is not None else 0,
    }
