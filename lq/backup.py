"""``lq backup`` and ``lq restore``: an online backup of a running deployment's JetStream
state into one file, and its restore into a fresh NATS (docs/install.md).

The NATS protocol work is ``events.backup``; this module finds NATS like every other
``lq`` command (``--data-dir``, ``LQ_NATS_URL``, the service identity) and reports.
``lq.cli`` registers the commands.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import msgspec

from events import backup as backup_mod
from events.errors import LqError
from events.settings import Settings

Load = Callable[..., Settings]
_load: dict[str, Load] = {}

data_dir_option = click.option("--data-dir", default=None, help="Data directory (default ./.lq)")


def register(main: click.Group, settings: Load) -> None:
    """Add ``backup`` and ``restore`` to ``main``; ``settings(process, **overrides)``."""
    _load["settings"] = settings
    main.add_command(backup)
    main.add_command(restore)


def _settings(process: str, data_dir: str | None) -> Settings:
    return _load["settings"](process, data_dir=data_dir)


@contextlib.contextmanager
def _embedded_nats(s: Settings) -> Iterator[Settings]:
    """The nats-server of a new ``lq up`` data directory, started for the restore only:
    the same store directory and, unless turned off, the same authorization."""
    from events import natsauth
    from lq.embedded import EmbeddedError, start_nats

    auth = s.nats_auth != natsauth.OFF
    if auth:
        natsauth.bootstrap(msgspec.structs.replace(s, nats_auth=natsauth.EMBEDDED))
    try:
        srv = start_nats(natsauth.nats_dir(s), authorization=auth)
    except EmbeddedError as exc:
        raise click.ClickException(f"starting the embedded nats-server: {exc}") from None
    try:
        yield msgspec.structs.replace(s, nats_url=srv.url)
    finally:
        srv.stop()


def _say(line: str) -> None:
    click.echo(f"  {line}")


@click.command()
@data_dir_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The new backup file (must not exist)",
)
def backup(data_dir: str | None, out: Path) -> None:
    """Back up the event stream and the credentials of a running deployment to a file."""
    s = _settings("backup", data_dir)
    if not s.nats_url:
        raise click.UsageError(
            "no LQ_NATS_URL: set it, or point --data-dir at a running `lq up` stack"
        )
    click.echo(f"backing up from {s.nats_url}")
    try:
        manifest = asyncio.run(backup_mod.backup(s, out, _say))
    except LqError as exc:
        raise click.ClickException(str(exc)) from None
    events = next(p for p in manifest.streams if p.name == backup_mod.EVENTS)
    click.echo(
        f"wrote {out}: {backup_mod.EVENTS} up to seq {events.last_seq}, "
        f"as of {manifest.started_at} (keep it private: it holds password hashes)"
    )


@click.command()
@data_dir_option
@click.option(
    "--in",
    "source",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file written by `lq backup`",
)
def restore(data_dir: str | None, source: Path) -> None:
    """Restore a backup into a fresh NATS, before any LimiQuantix process starts on it.

    Without LQ_NATS_URL, restores into the embedded nats-server of the new data directory
    (--data-dir), started for the restore and stopped after it; `lq up` then starts on it."""
    s = _settings("restore", data_dir)
    try:
        manifest = backup_mod.read_manifest(source)  # a damaged file starts nothing
        with contextlib.ExitStack() as stack:
            if not s.nats_url:
                s = stack.enter_context(_embedded_nats(s))
            click.echo(f"restoring {source} into {s.nats_url}")
            asyncio.run(backup_mod.restore(s, source, _say, manifest))
    except LqError as exc:
        raise click.ClickException(str(exc)) from None
    events = next(p for p in manifest.streams if p.name == backup_mod.EVENTS)
    click.echo(
        f"restored {backup_mod.EVENTS} up to seq {events.last_seq} (backup of "
        f"{manifest.started_at}, LimiQuantix {manifest.limiquantix_version}); start "
        "LimiQuantix on it with an empty database: the projector rebuilds the read models"
    )
