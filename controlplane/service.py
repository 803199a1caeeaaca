"""Wiring of the controlplane inside an aiohttp app: resources and background jobs.

``setup`` registers one ``cleanup_ctx`` that connects to NATS, provisions the streams,
rebuilds the aggregate cache, then runs the process managers, the report consumer, the
enrolment responder and the liveness/deadline watcher until the app stops. The watcher,
the HA sweep, DRS and the alert engine are leader-only jobs (``controlplane.leader``): they
run only on the replica holding the lease ``controlplane-jobs``; everything else runs on
every replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from controlplane.agents import AgentLink
from controlplane.alerting.engine import AlertEngine
from controlplane.api import access, vm_devices, vms
from controlplane.api import affinity as affinity_routes
from controlplane.api import alert_rules as alert_rule_routes
from controlplane.api import alerts as alert_routes
from controlplane.api import auth as auth_routes
from controlplane.api import channels as channel_routes
from controlplane.api import clusters as cluster_routes
from controlplane.api import console as console_routes
from controlplane.api import drs as drs_routes
from controlplane.api import ha as ha_routes
from controlplane.api import hosts as host_routes
from controlplane.api import join_tokens as join_token_routes
from controlplane.api import networks as network_routes
from controlplane.api import security_groups as security_group_routes
from controlplane.api import settings as settings_routes
from controlplane.api import storage as storage_routes
from controlplane.api import tasks as task_routes
from controlplane.api import webhooks as webhook_routes
from controlplane.api.common import COMMANDS, Commands
from controlplane.auth import keys
from controlplane.auth.credentials import Credentials
from controlplane.auth.middleware import AUTH
from controlplane.auth.service import Auth
from controlplane.drs import Drs
from controlplane.ha import HaWatch
from controlplane.handlers import Handler
from controlplane.ipam import NetProcess
from controlplane.leader import JOBS_LEASE, LeaderJobs, holder_id
from controlplane.load import LoadView
from controlplane.migration import MigrationProcess
from controlplane.processes import VmProcess
from controlplane.repository import Repository
from controlplane.scheduler import Placer
from controlplane.storage import StorageProcess
from events import natsauth, tls
from events.aio import cancel_and_wait
from events.bus import Bus
from events.settings import Settings

log = logging.getLogger(__name__)

BUS: web.AppKey[Bus] = web.AppKey("lq_controlplane_bus", Bus)
LEADER: web.AppKey[LeaderJobs] = web.AppKey("lq_controlplane_leader", LeaderJobs)


def setup(app: web.Application, settings: Settings) -> None:
    app.add_routes(ha_routes.routes)  # before vms: its /actions/set-ha precedes /actions/{verb}
    app.add_routes(drs_routes.routes)
    app.add_routes(cluster_routes.routes)  # before vms: /vms/{id}/actions/migrate
    app.add_routes(affinity_routes.routes)
    app.add_routes(host_routes.routes)
    app[cluster_routes.SETTINGS] = settings
    app.add_routes(vms.routes)
    app.add_routes(vm_devices.routes)
    app.add_routes(task_routes.routes)
    app.add_routes(auth_routes.routes)
    app.add_routes(access.routes)
    app.add_routes(join_token_routes.routes)
    app.add_routes(alert_routes.routes)
    app.add_routes(channel_routes.routes)
    app.add_routes(alert_rule_routes.routes)
    app.add_routes(console_routes.routes)
    app.add_routes(webhook_routes.routes)
    app.add_routes(network_routes.routes)
    app.add_routes(security_group_routes.routes)
    app.add_routes(storage_routes.routes)
    app[storage_routes.SETTINGS] = settings
    app.add_routes(settings_routes.routes)
    app[settings_routes.SETTINGS] = settings

    async def close_consoles(app: web.Application) -> None:
        if (consoles := app.get(console_routes.CONSOLES)) is not None:
            await consoles.close_all()

    app.on_shutdown.append(close_consoles)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        bus = await Bus.connect(
            settings.nats_url,
            name="controlplane",
            reconnect_forever=True,
            tls=tls.nats_client_context(settings),
            auth=natsauth.service_auth(settings),
        )
        bus.store.configure(settings)  # the append budget (docs/settings.md)
        tasks: list[asyncio.Task[None]] = []
        repo = Repository(bus.store)
        try:
            await bus.provision(settings)
            await repo.start()
            handler = Handler(repo, bus.store, retries=settings.append_retries)
            app[BUS] = bus
            app[webhook_routes.SECRETS] = bus
            app[storage_routes.RELAY] = bus
            app[COMMANDS] = Commands(repo=repo, handler=handler)
            auth = Auth(settings, repo, handler, Credentials(bus), keys.load_or_create(settings))
            app[AUTH] = auth
            await auth.bootstrap()
            link = AgentLink(bus, handler, settings)
            app[host_routes.HOST_KEYS] = link.host_keys
            await link.serve_enrolment()
            load = LoadView(settings.load_max_age_s)  # hosts' measured load (every replica)
            placer = Placer(repo, settings, load)  # one host index for every placement
            process = VmProcess(bus, handler, settings, placer)
            engine = AlertEngine(bus, handler, repo, settings)
            app[alert_routes.ENGINE] = engine
            app[console_routes.CONSOLES] = console_routes.Consoles(bus, repo, settings)
            drs = Drs(handler, settings, load)
            app[drs_routes.DRS] = drs
            leader = LeaderJobs(
                bus,
                JOBS_LEASE,
                [
                    link.watch,
                    HaWatch(bus, handler, settings, placer, beats=link.beats).run,
                    drs.run,
                    engine.run,
                ],
                settings.leader_ttl_s,
                holder_id(settings.http_port),
            )
            app[LEADER] = leader
            tasks = [
                asyncio.create_task(process.run(), name="vm-process"),
                asyncio.create_task(
                    MigrationProcess(bus, handler, settings, placer).run(), name="migration-process"
                ),
                asyncio.create_task(load.run(bus), name="load-view"),
                asyncio.create_task(NetProcess(bus, handler).run(), name="net-process"),
                asyncio.create_task(
                    StorageProcess(bus, handler, settings).run(), name="storage-process"
                ),
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
