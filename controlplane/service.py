"""Wiring of the controlplane inside an aiohttp app: resources and background jobs.

``setup`` registers one ``cleanup_ctx`` that connects to NATS, provisions the streams,
rebuilds the aggregate cache, then runs the process managers, the report consumer, the
enrolment responder and the liveness/deadline watcher until the app stops. The watcher is
a leader-only job (``controlplane.leader``): it runs only on the replica holding the lease
``controlplane-jobs``; everything else runs on every replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from controlplane.agents import AgentLink
from controlplane.alerting.engine import AlertEngine
from controlplane.api import access, vms
from controlplane.api import alerts as alert_routes
from controlplane.api import auth as auth_routes
from controlplane.api.common import COMMANDS, Commands
from controlplane.auth import keys
from controlplane.auth.credentials import Credentials
from controlplane.auth.middleware import AUTH
from controlplane.auth.service import Auth
from controlplane.handlers import Handler
from controlplane.leader import JOBS_LEASE, LeaderJobs, holder_id
from controlplane.processes import VmProcess
from controlplane.repository import Repository
from events import tls
from events.aio import cancel_and_wait
from events.bus import Bus
from events.settings import Settings

log = logging.getLogger(__name__)

BUS: web.AppKey[Bus] = web.AppKey("lq_controlplane_bus", Bus)
LEADER: web.AppKey[LeaderJobs] = web.AppKey("lq_controlplane_leader", LeaderJobs)


def setup(app: web.Application, settings: Settings) -> None:
    app.add_routes(vms.routes)
    app.add_routes(auth_routes.routes)
    app.add_routes(access.routes)
    app.add_routes(alert_routes.routes)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        bus = await Bus.connect(
            settings.nats_url,
            name="controlplane",
            reconnect_forever=True,
            tls=tls.nats_client_context(settings),
        )
        tasks: list[asyncio.Task[None]] = []
        repo = Repository(bus.store)
        try:
            await bus.provision(settings)
            await repo.start()
            handler = Handler(repo, bus.store, retries=settings.append_retries)
            app[BUS] = bus
            app[COMMANDS] = Commands(repo=repo, handler=handler)
            auth = Auth(settings, repo, handler, Credentials(bus), keys.load_or_create(settings))
            app[AUTH] = auth
            await auth.bootstrap()
            link = AgentLink(bus, handler, settings)
            await link.serve_enrolment()
            process = VmProcess(bus, handler, settings)
            engine = AlertEngine(bus, handler, repo, settings)
            app[alert_routes.ENGINE] = engine
            leader = LeaderJobs(
                bus, JOBS_LEASE, [link.watch], settings.leader_ttl_s, holder_id(settings.http_port)
            )
            app[LEADER] = leader
            tasks = [
                asyncio.create_task(engine.run(), name="alerting"),
                asyncio.create_task(process.run(), name="vm-process"),
                asyncio.create_task(link.consume_reports(), name="reports"),
                asyncio.create_task(leader.run(), name="leader-jobs"),
            ]
            yield
        finally:
            await cancel_and_wait(tasks)
            await repo.stop()
            await bus.close()

    app.cleanup_ctx.append(lifecycle)


async def readiness(app: web.Application) -> dict[str, Any]:
    bus = app.get(BUS)
    cmds = app.get(COMMANDS)
    return {
        "nats": bool(bus is not None and bus.connected),
        "stream_seq": cmds.repo.seq if cmds is not None else 0,
        "leader": bool(app.get(LEADER) is not None and app[LEADER].is_leader),
        # a count only (``/ready`` is public): lets ``lq up`` wait for its hosts
        "hosts_connected": sum(1 for h in cmds.repo.all("host") if h.state == "connected")
        if cmds is not None
        else 0,
    }
