"""``lq audit``, ``lq replay`` and ``lq verify``: history as a product, on the command line.

``lq audit <kind> <id>`` prints who did what to an entity, when, why (task and cause) and
what changed; ``lq audit export`` writes the audit log as JSON lines for other tools;
``lq audit verify`` walks the event stream and checks every aggregate's hash chain
(``events.chain``). ``lq replay --until X --into S`` builds the whole inventory as it was
at X into schema S; ``lq verify`` rebuilds the read model aside and compares it with the
live one. The audit log is read from PostgreSQL; the chain is verified against NATS, the
source of truth. ``lq.cli`` registers these commands.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import click
import msgspec
import psycopg
from psycopg.rows import dict_row

from events.settings import Settings
from projections import history, schema

_enc = msgspec.json.Encoder()
Load = Callable[..., Settings]
_load: dict[str, Load] = {}

KIND_ALIASES = {"vms": "vm", "hosts": "host", "tasks": "task"}


def register(main: click.Group, settings: Load) -> None:
    """Add the history commands to ``main``; ``settings(process, **overrides)`` loads them."""
    _load["settings"] = settings
    main.add_command(audit)
    main.add_command(replay)
    main.add_command(verify)


def _settings(process: str, data_dir: str | None, *need: str) -> Settings:
    s = _load["settings"](process, data_dir=data_dir)
    missing = [w for w in need if not getattr(s, w)]
    if missing:
        names = ", ".join("LQ_" + m.upper() for m in missing)
        raise click.UsageError(f"no {names}: set it, or point --data-dir at a running `lq up`")
    return s


def _point(raw: str | None, name: str) -> history.Point | None:
    if raw is None:
        return None
    try:
        return history.parse_point(raw)
    except history.BadPoint as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


async def _connect(s: Settings) -> psycopg.AsyncConnection[Any]:
    conn = await psycopg.AsyncConnection.connect(s.database_url, autocommit=True)
    await conn.execute("SELECT set_config('TimeZone', 'UTC', false)")
    await schema.use_schema(conn, s.db_schema)
    return conn


data_dir_option = click.option("--data-dir", default=None, help="Data directory (default ./.lq)")


class _AuditGroup(click.Group):
    """``lq audit <kind> <id>`` as well as ``lq audit export|verify``."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "show", self.commands["show"], args
        return super().resolve_command(ctx, args)


@click.group(cls=_AuditGroup)
def audit() -> None:
    """Who did what, when and why: `lq audit <kind> <id>`, `export`, `verify`."""


def _format_changes(changes: dict[str, list[Any]] | None) -> list[str]:
    out = []
    for field, pair in (changes or {}).items():
        old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
        out.append(f"      {field}: {_enc.encode(old).decode()} → {_enc.encode(new).decode()}")
    return out


@audit.command("show")
@click.argument("kind")
@click.argument("ident")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event")
def audit_show(kind: str, ident: str, data_dir: str | None, as_json: bool) -> None:
    """The history of one entity (vm, host or task)."""
    s = _settings("audit", data_dir, "database_url")
    kind = KIND_ALIASES.get(kind, kind)

    async def main() -> int:
        conn = await _connect(s)
        try:
            if kind == "task":
                found = await history.correlated(conn, ident)
            else:
                found = await history.entity_events(conn, kind, ident, None)
            rows = [history.audit_row(r) for r in found]
            tasks: dict[str, str] = {}
            ids = sorted({r["correlation_id"] for r in rows if r["correlation_id"]})
            if ids:
                async with conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute("SELECT id, operation FROM tasks WHERE id = ANY(%s)", [ids])
                    tasks = {t["id"]: t["operation"] for t in await cur.fetchall()}
        finally:
            await conn.close()
        if not rows:
            click.echo(f"no events for {kind} {ident}", err=True)
            return 1
        for r in rows:
            if as_json:
                click.echo(_enc.encode(r).decode())
                continue
            why = ""
            if r["correlation_id"]:
                op = tasks.get(r["correlation_id"], "")
                why = f"  task {r['correlation_id']}" + (f" ({op})" if op else "")
            if r["causation_id"]:
                why += f"  caused by {r['causation_id']}"
            when = r["occurred_at"].strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"{when}Z  seq {r['seq']:<8} {r['actor']:<24} {r['type']}{why}")
            for line in _format_changes(r.get("changes")):
                click.echo(line)
        return 0

    sys.exit(asyncio.run(main()))


@audit.command("export")
@click.option("--since", default=None, help="Stream sequence or ISO time (inclusive)")
@click.option("--until", default=None, help="Stream sequence or ISO time (inclusive)")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--kind", default=None, help="Only this aggregate kind")
@data_dir_option
def audit_export(
    since: str | None, until: str | None, fmt: str, kind: str | None, data_dir: str | None
) -> None:
    """Write the audit log to stdout, one JSON object per event, in stream order."""
    s = _settings("audit", data_dir, "database_url")
    lo, hi = _point(since, "--since"), _point(until, "--until")

    async def main() -> None:
        where: list[str] = ["true"]
        params: list[Any] = []
        for bound, op in ((lo, ">="), (hi, "<=")):
            if bound is not None:
                by_seq = bound.seq is not None
                where.append(f"{'seq' if by_seq else 'occurred_at'} {op} %s")
                params.append(bound.seq if by_seq else bound.time)
        if kind:
            where.append("aggregate_kind = %s")
            params.append(KIND_ALIASES.get(kind, kind))
        conn = await _connect(s)
        try:
            async with conn.transaction():
                cur = conn.cursor("lq_audit_export", row_factory=dict_row)
                sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq, index"
                await cur.execute(sql.encode(), params)
                out = sys.stdout.buffer
                while rows := await cur.fetchmany(2000):
                    out.write(b"".join(_enc.encode(r) + b"\n" for r in rows))
                out.flush()
        finally:
            await conn.close()

    asyncio.run(main())


@audit.command("verify")
@click.option("--until", "until_seq", type=int, default=None, help="Stop at this sequence")
@data_dir_option
def audit_verify(until_seq: int | None, data_dir: str | None) -> None:
    """Check the hash chain of every aggregate on the event stream."""
    from events import chain, natsauth
    from events.bus import Bus

    s = _settings("audit", data_dir, "nats_url")

    async def main() -> chain.Report:
        bus = await Bus.connect(s.nats_url, name="lq-audit-verify", auth=natsauth.service_auth(s))
        try:
            v = chain.Verifier()
            async for seq, subject, data in bus.store.replay_raw(until_seq=until_seq):
                v.feed(seq, subject, data)
            return v.report
        finally:
            await bus.close()

    report = asyncio.run(main())
    click.echo(
        f"checked {report.events} events in {report.messages} messages up to seq"
        f" {report.last_seq}: {report.chained} chained, {report.unchained} unchained,"
        f" {report.aggregates} aggregates"
    )
    if report.chain_starts and report.unchained:
        first = min(report.chain_starts.values())
        click.echo(
            f"chains start at seq {first} (events before their aggregate's start are unchained)"
        )
    for f in report.findings:
        click.echo(f"seq {f.seq} #{f.index} {f.subject}: {f.problem}: {f.detail}")
    if not report.ok:
        click.echo(f"FAILED: {len(report.findings)} problem(s)", err=True)
        sys.exit(1)
    click.echo("OK: every chained event is intact and in order")


@click.command()
@click.option("--until", "until", required=True, help="Stream sequence or ISO time")
@click.option("--into", "into", required=True, help="Schema to build (replaced if it exists)")
@data_dir_option
def replay(until: str, into: str, data_dir: str | None) -> None:
    """Build every read model as it was at --until into schema --into."""
    from projections import replay as replay_mod

    s = _settings("replay", data_dir, "nats_url", "database_url")
    if into == s.db_schema:
        raise click.UsageError("--into must not be the live read model's schema")
    try:
        schema.validate(into)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--into") from None
    done = asyncio.run(replay_mod.replay_to(s, into, _point(until, "--until")))
    click.echo(
        f"replayed {done.events} events into schema {done.schema} (checkpoint {done.last_seq});"
        f" query it with ?schema={done.schema} or SET search_path TO {done.schema}"
    )


@click.command()
@click.option("--keep", is_flag=True, help="Keep the scratch schema <schema>_verify")
@data_dir_option
def verify(keep: bool, data_dir: str | None) -> None:
    """Rebuild the read model aside and compare it row by row with the live one."""
    from projections import replay as replay_mod

    s = _settings("verify", data_dir, "nats_url", "database_url")
    seq, differences = asyncio.run(replay_mod.verify(s, keep))
    for line in differences:
        click.echo(line)
    if differences:
        click.echo(f"FAILED: the live read model differs from a rebuild at seq {seq}", err=True)
        sys.exit(1)
    click.echo(f"OK: the live read model equals a rebuild from the stream (seq {seq})")
