"""Online backup and restore of the JetStream state LimiQuantix cannot rebuild.

``backup`` asks the server for a snapshot of each stream in ``STREAMS`` through
JetStream's own API (``$JS.API.STREAM.SNAPSHOT.<stream>``): the server sends the snapshot
(an s2-compressed tar of the stream's store, consumers included) in chunks to an inbox,
each chunk carrying a reply subject that is acknowledged for flow control, and ends it
with an empty message. Each snapshot is consistent as of the moment the server took it;
the deployment keeps running meanwhile. The snapshots go into one tar file with a
``manifest.json`` (``Manifest``: each stream's configuration and state, the time, the
LimiQuantix version and a SHA-256 of each snapshot).

``restore`` checks the whole file first (manifest, every checksum), then that none of the
streams exists on the target, and only then sends each snapshot to
``$JS.API.STREAM.RESTORE.<stream>`` in chunks (each one a request the server answers)
and a final empty request the server answers with the restored stream's state. A file
that fails a check or a target that already holds a stream is refused before anything is
created. Lives in the NATS-owning layer of ``events`` beside ``events.bus``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

import msgspec
import nats.errors
from nats.aio.client import Client as NATS

from events import natsauth, subjects, tls
from events.bus import Bus
from events.errors import LqError
from events.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
CHUNK = 128 * 1024
REQUEST_TIMEOUT_S = 30.0
FINISH_TIMEOUT_S = 600.0  # the server unpacks the whole snapshot before it answers
EVENTS = subjects.EVENTS_STREAM
STREAMS: tuple[str, ...] = (EVENTS, f"KV_{subjects.CREDENTIALS_BUCKET}")
"""What a backup holds: the event stream (the source of truth) and the password hashes and
API token digests kept out of it. Everything else in JetStream is in-flight work (orders,
reports), samples (metrics) or seconds of liveness (heartbeats, leases), rebuilt or
re-sent by a running deployment."""

Progress = Callable[[str], None]


class BackupError(LqError):
    """The server refused or broke off a snapshot or restore."""


class BackupInvalid(BackupError):
    """The backup file is damaged, truncated or not a LimiQuantix backup."""


class RestoreRefused(BackupError):
    """The target already holds a stream the backup would create."""


class StreamPart(msgspec.Struct, frozen=True, kw_only=True):
    """One stream in a backup: its snapshot's member name, size and checksum, and the
    configuration and state the server reported when it took the snapshot."""

    name: str
    file: str
    size: int
    sha256: str
    messages: int
    first_seq: int
    last_seq: int
    config: dict[str, Any]
    state: dict[str, Any]


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    limiquantix_version: str
    started_at: str
    """When the backup began (UTC): it holds what the streams held then."""
    finished_at: str
    streams: list[StreamPart]


class _ApiError(msgspec.Struct, frozen=True):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _Reply(msgspec.Struct, frozen=True):
    """The fields of the JetStream API answers used here (the rest is kept raw)."""

    error: _ApiError | None = None
    deliver_subject: str = ""


_reply = msgspec.json.Decoder(_Reply)
_raw = msgspec.json.Decoder(dict[str, Any])
_manifest = msgspec.json.Decoder(Manifest)


def lq_version() -> str:
    try:
        return version("limiquantix")
    except PackageNotFoundError:
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def _connect(settings: Settings, name: str) -> Bus:
    return await Bus.connect(
        settings.nats_url,
        name=name,
        tls=tls.nats_client_context(settings),
        auth=natsauth.service_auth(settings),
    )


def _client(bus: Bus) -> NATS:
    return bus.client


async def _api(nc: NATS, subject: str, body: dict[str, Any], timeout: float) -> bytes:
    try:
        msg = await nc.request(subject, msgspec.json.encode(body), timeout=timeout)
    except (nats.errors.Error, TimeoutError) as exc:
        raise BackupError(f"{subject}: {exc!r}") from exc
    try:
        reply = _reply.decode(msg.data)
    except msgspec.DecodeError as exc:
        raise BackupError(f"{subject}: unexpected answer {msg.data[:200]!r}") from exc
    if reply.error is not None:
        raise BackupError(f"{subject}: {reply.error.description} ({reply.error.err_code})")
    return msg.data


# ---- backup -------------------------------------------------------------------------


async def snapshot(nc: NATS, stream: str, sink: IO[bytes]) -> tuple[dict[str, Any], str, int]:
    """Write the server's snapshot of ``stream`` to ``sink``; the snapshot answer
    (``config`` and ``state``), the SHA-256 and the size of what was written."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, pending_bytes_limit=256 * 1024 * 1024)
    digest = hashlib.sha256()
    size = 0
    try:
        answer = await _api(
            nc,
            f"$JS.API.STREAM.SNAPSHOT.{stream}",
            {"deliver_subject": inbox, "no_consumers": False, "chunk_size": CHUNK},
            REQUEST_TIMEOUT_S,
        )
        while True:
            try:
                msg = await sub.next_msg(timeout=REQUEST_TIMEOUT_S)
            except (nats.errors.Error, TimeoutError) as exc:
                raise BackupError(f"snapshot of {stream} stalled after {size} bytes") from exc
            status = (msg.headers or {}).get("Status", "")
            if status and not status.startswith("2"):
                why = (msg.headers or {}).get("Description", "")
                raise BackupError(f"snapshot of {stream} failed: {status} {why}".strip())
            if not msg.data and not msg.reply:
                break  # the end of the snapshot
            sink.write(msg.data)
            digest.update(msg.data)
            size += len(msg.data)
            if msg.reply:
                await nc.publish(msg.reply, b"")  # flow control: this chunk arrived
    finally:
        with contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()
    return _raw.decode(answer), digest.hexdigest(), size


def _new_file(path: Path) -> IO[bytes]:
    return open(path, "xb")  # the caller closes it


async def backup(settings: Settings, out: Path, progress: Progress = lambda _: None) -> Manifest:
    """Snapshot every stream of ``STREAMS`` into the new file ``out`` (mode 0600: it holds
    password hashes); written beside it and renamed into place once complete."""
    if out.exists():
        raise BackupError(f"{out} exists: choose a new file name")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} is not a directory")
    started = _now()
    bus = await _connect(settings, "lq-backup")
    parts: list[tuple[StreamPart, Path]] = []
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".lq-backup-") as scratch:
        try:
            for stream in STREAMS:
                data = Path(scratch) / f"{stream}.tar.s2"
                with _new_file(data) as sink:
                    answer, sha, size = await snapshot(_client(bus), stream, sink)
                state = answer.get("state") or {}
                part = StreamPart(
                    name=stream,
                    file=data.name,
                    size=size,
                    sha256=sha,
                    messages=int(state.get("messages", 0)),
                    first_seq=int(state.get("first_seq", 0)),
                    last_seq=int(state.get("last_seq", 0)),
                    config=answer.get("config") or {},
                    state=state,
                )
                progress(f"{stream}: {part.messages} messages, last seq {part.last_seq}")
                parts.append((part, data))
        finally:
            await bus.close()
        manifest = Manifest(
            format=FORMAT,
            limiquantix_version=lq_version(),
            started_at=started,
            finished_at=_now(),
            streams=[p for p, _ in parts],
        )
        partial = Path(scratch) / "backup.tar"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            encoded = msgspec.json.format(msgspec.json.encode(manifest))
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(encoded)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(encoded))
            for part, data in parts:
                tar.add(data, arcname=part.file, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    return manifest


# ---- restore ------------------------------------------------------------------------


def read_manifest(path: Path) -> Manifest:
    """Open a backup file and check it whole: the manifest, and each snapshot's size and
    SHA-256 against it. Raises ``BackupInvalid`` saying what is wrong."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise BackupInvalid(f"{path}: no {MANIFEST}; not a LimiQuantix backup")
            manifest = _manifest.decode(member.read())
            if manifest.format != FORMAT:
                raise BackupInvalid(f"{path}: backup format {manifest.format}, expected {FORMAT}")
            for part in manifest.streams:
                _check_part(tar, part, path)
    except KeyError as exc:
        raise BackupInvalid(f"{path}: missing {exc}; the file is incomplete") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupInvalid(f"{path}: not a readable backup file ({exc})") from exc
    except msgspec.DecodeError as exc:
        raise BackupInvalid(f"{path}: damaged manifest ({exc})") from exc
    if not any(p.name == EVENTS for p in manifest.streams):
        raise BackupInvalid(f"{path}: holds no {EVENTS} snapshot")
    return manifest


def _check_part(tar: tarfile.TarFile, part: StreamPart, path: Path) -> None:
    data = tar.extractfile(part.file)
    if data is None:
        raise BackupInvalid(f"{path}: {part.file} is not a file")
    digest = hashlib.sha256()
    size = 0
    while chunk := data.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    if size != part.size or digest.hexdigest() != part.sha256:
        raise BackupInvalid(
            f"{path}: checksum mismatch in {part.file} (sha256 {digest.hexdigest()}, "
            f"{size} bytes; the manifest says {part.sha256}, {part.size} bytes): "
            "the file is damaged"
        )


async def _existing(nc: NATS, stream: str) -> int | None:
    """How many messages ``stream`` holds on the target, or None when it does not exist.
    Waits up to ``REQUEST_TIMEOUT_S`` for JetStream to answer (a new cluster first elects
    its leader)."""
    deadline = asyncio.get_running_loop().time() + REQUEST_TIMEOUT_S
    while True:
        try:
            msg = await nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=2.0)
            break
        except (nats.errors.Error, TimeoutError) as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise BackupError(
                    f"asking NATS about {stream}: {exc!r} (is JetStream enabled and ready?)"
                ) from exc
    info = _raw.decode(msg.data)
    error = info.get("error")
    if error:
        if error.get("code") == 404:
            return None
        raise BackupError(f"asking NATS about {stream}: {error.get('description')}")
    return int((info.get("state") or {}).get("messages", 0))


async def _send(nc: NATS, stream: str, part: StreamPart, data: IO[bytes], replicas: int) -> int:
    config = {**part.config, "num_replicas": replicas}
    answer = await _api(
        nc,
        f"$JS.API.STREAM.RESTORE.{stream}",
        {"config": config, "state": part.state},
        REQUEST_TIMEOUT_S,
    )
    deliver = _reply.decode(answer).deliver_subject
    if not deliver:
        raise BackupError(f"restore of {stream}: the server named no subject for the chunks")
    try:
        while chunk := data.read(CHUNK):
            ack = await nc.request(deliver, chunk, timeout=REQUEST_TIMEOUT_S)
            if ack.data:  # an empty answer is the acknowledgement
                raise BackupError(f"restore of {stream} failed: {ack.data[:300]!r}")
        done = await nc.request(deliver, b"", timeout=FINISH_TIMEOUT_S)
    except (nats.errors.Error, TimeoutError) as exc:
        raise BackupError(f"restore of {stream} broke off: {exc!r}") from exc
    try:
        final = _raw.decode(done.data)
    except msgspec.DecodeError as exc:
        raise BackupError(f"restore of {stream}: unexpected answer {done.data[:200]!r}") from exc
    if final.get("error"):
        raise BackupError(f"restore of {stream} failed: {final['error'].get('description')}")
    last = int(((final.get("state") or {}).get("last_seq")) or 0)
    if last != part.last_seq:
        raise BackupError(f"restore of {stream} ended at seq {last}, not {part.last_seq}")
    return last


async def restore(
    settings: Settings,
    path: Path,
    progress: Progress = lambda _: None,
    checked: Manifest | None = None,
) -> Manifest:
    """Restore every stream of the backup at ``path`` into a NATS that holds none of them;
    ``checked``: what ``read_manifest(path)`` answered already."""
    manifest = checked or read_manifest(path)
    bus = await _connect(settings, "lq-restore")
    nc = _client(bus)
    try:
        present = {}
        for part in manifest.streams:
            held = await _existing(nc, part.name)
            if held is not None:
                present[part.name] = held
        if present:
            listed = ", ".join(f"{n} ({m} messages)" for n, m in present.items())
            raise RestoreRefused(
                f"this NATS already holds {listed}: restore only into a fresh NATS, before "
                "any LimiQuantix process has started against it (a started process creates "
                "empty streams). Nothing was changed."
            )
        done: list[str] = []
        with tarfile.open(path, mode="r:") as tar:
            for part in manifest.streams:
                data = tar.extractfile(part.file)
                if data is None:  # checked by read_manifest
                    raise BackupInvalid(f"{path}: {part.file} is not a file")
                try:
                    last = await _send(nc, part.name, part, data, settings.events_replicas)
                except BackupError as exc:
                    if not done:
                        raise
                    raise BackupError(
                        f"{exc}; {', '.join(done)} were restored already: start over on a "
                        "fresh NATS"
                    ) from exc
                done.append(part.name)
                progress(f"{part.name}: {part.messages} messages, last seq {last}")
    finally:
        await bus.close()
    return manifest
