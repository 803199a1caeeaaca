"""The ``lq`` command: run the embedded stack or any one LimiQuantix process.

Every subcommand builds exactly one ``Settings`` (defaults → TOML → ``LQ_*`` env → flags)
and finds NATS and PostgreSQL from the flags, the environment, or the endpoints a running
``lq up`` wrote into its data directory.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click
import msgspec

from events import settings as settings_mod
from events import tracing
from events.settings import Settings
from lq import backup, history, logs
from lq.client import alerts as alert_client
from lq.client import commands as client
from lq.client import networks as network_client
from lq.client import storage as storage_client
from lq.client import webhooks as webhook_client


def _settings(process: str, **overrides: Any) -> Settings:
    try:
        s = settings_mod.load(overrides)
    except msgspec.ValidationError as exc:
        raise click.UsageError(f"invalid setting: {exc}") from exc
    logs.configure(s.log_level, s.log_json, process)
    tracing.setup(s, process)
    return s


def _serve_prometheus(s: Settings) -> None:
    """Processes without an HTTP API (projector, agent) serve ``/metrics`` on their own port."""
    if s.prometheus_port > 0:
        from prometheus_client import start_http_server

        start_http_server(s.prometheus_port, addr=s.http_host)


def _need(s: Settings, *what: str) -> None:
    missing = [w for w in what if not getattr(s, w)]
    if missing:
        names = ", ".join("LQ_" + m.upper() for m in missing)
        raise click.UsageError(
            f"no {names}: set it, or point --data-dir at a running `lq up` stack"
        )


def run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` and set ``stop`` on SIGINT/SIGTERM."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


data_dir_option = click.option("--data-dir", default=None, help="Data directory (default ./.lq)")


@click.group()
def main() -> None:
    """LimiQuantix: event-sourced virtualization management."""


@main.command()
@data_dir_option
@click.option("--port", type=int, default=None, help="HTTP port (default 8080)")
@click.option(
    "--hosts",
    type=click.IntRange(0, 64),
    default=3,
    show_default=True,
    help="Simulated hosts on libvirt's test driver",
)
@click.option("--bind", default=None, help="HTTP address (default 127.0.0.1)")
def up(data_dir: str | None, port: int | None, hosts: int, bind: str | None) -> None:
    """Run everything on this machine: NATS, PostgreSQL, controlplane, projector, hosts."""
    from lq import up as up_mod

    s = _settings("up", data_dir=data_dir, http_port=port, http_host=bind)
    sys.exit(up_mod.run(s, hosts))


@main.command()
@data_dir_option
@click.option("--port", type=int, default=None)
@click.option("--bind", default=None)
def controlplane(data_dir: str | None, port: int | None, bind: str | None) -> None:
    """Run the controlplane: HTTP API, process managers, liveness."""
    from aiohttp import web

    from events import tls
    from lq.web import build_app

    s = _settings("controlplane", data_dir=data_dir, http_port=port, http_host=bind)
    _need(s, "nats_url", "database_url")

    async def serve(stop: asyncio.Event) -> None:
        runner = web.AppRunner(build_app(s), handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, s.http_host, s.http_port, ssl_context=tls.http_server_context(s))
        await site.start()
        click.echo(f"controlplane listening on {s.http_url}", err=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    run_until_signal(serve)


@main.command()
@data_dir_option
def projector(data_dir: str | None) -> None:
    """Run the projectors (read models, metrics) and the webhook dispatcher."""
    from projections import metrics_runner, runner, webhook_dispatch

    s = _settings("projector", data_dir=data_dir)
    _need(s, "nats_url", "database_url")
    _serve_prometheus(s)

    async def both(stop: asyncio.Event) -> None:
        await asyncio.gather(
            runner.run(s, stop), metrics_runner.run(s, stop), webhook_dispatch.run(s, stop)
        )

    run_until_signal(both)


@main.command()
@data_dir_option
@click.option("--connect", "uri", default=None, help="libvirt URI, e.g. qemu:///system")
@click.option("--name", default=None, help="Host name to enrol as (default: hostname)")
@click.option(
    "--join-token",
    default=None,
    help="One-time join token for the first enrolment (or LQ_AGENT_JOIN_TOKEN)",
)
def agent(data_dir: str | None, uri: str | None, name: str | None, join_token: str | None) -> None:
    """Run a host agent against a libvirt connection."""
    from agent import service

    s = _settings(
        "agent", data_dir=data_dir, libvirt_uri=uri, agent_name=name, agent_join_token=join_token
    )
    _need(s, "nats_url")
    _serve_prometheus(s)
    run_until_signal(lambda stop: service.run(s, stop))


@main.command("nats-jwt-init")
@click.argument("directory", type=click.Path(file_okay=False))
def nats_jwt_init(directory: str) -> None:
    """Make an operator, accounts and credentials for NATS JWT mode (docs/security.md)."""
    from events import natsauth, natsjwt

    try:
        conf = natsjwt.bootstrap(directory, natsauth.enroll_permissions())
    except FileExistsError as exc:
        raise click.UsageError(f"{exc.filename} exists: use an empty directory") from None
    click.echo(f"include {conf} in every nats-server's configuration; then set")
    click.echo(
        f'  nats_auth = "jwt", nats_account_seed_file = {conf.parent / natsjwt.ACCOUNT_SEED}'
    )
    click.echo(
        f"  nats_creds_file = {conf.parent / natsjwt.SERVICE_CREDS} (controlplane, projector)"
    )
    click.echo(f"  nats_creds_file = {conf.parent / natsjwt.JOIN_CREDS} (agents)")


@main.group()
def projections() -> None:
    """Read-model maintenance."""


@projections.command()
@data_dir_option
def rebuild(data_dir: str | None) -> None:
    """Rebuild every read model from sequence 1 and swap it in."""
    from projections import rebuild as rebuild_mod

    s = _settings("rebuild", data_dir=data_dir)
    _need(s, "nats_url", "database_url")
    count = asyncio.run(rebuild_mod.rebuild(s))
    click.echo(f"rebuilt read models from {count} events")


@main.group()
def schema() -> None:
    """The event contract for outside subscribers."""


@schema.command("export")
def schema_export() -> None:
    """Print the JSON Schema of the envelope and every event type."""
    from events.codec import event_schema

    click.echo(json.dumps(event_schema(), indent=2))


history.register(main, _settings)  # lq audit …, lq replay, lq verify (lq/history.py)
backup.register(main, _settings)  # lq backup, lq restore (lq/backup.py)
client.register(main)  # lq vm|host|task|events|context|login|completion (lq/client/)
main.add_command(webhook_client.webhook)  # lq webhook … (docs/webhooks.md)
main.add_command(storage_client.pool)  # lq pool … (docs/storage.md)
main.add_command(storage_client.volume)  # lq volume …
main.add_command(network_client.network)  # lq network … (docs/networking.md)
main.add_command(network_client.sg)  # lq sg …
main.add_command(alert_client.alert)  # lq alert … (docs/alerting.md)
main.add_command(alert_client.silence)  # lq silence …

if __name__ == "__main__":
    main()
