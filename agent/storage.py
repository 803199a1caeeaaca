"""The agent's storage service: realises pools on this host and carries out volume work.

The controlplane asks on ``lq.host.<id>.storage`` (``events.storage.StorageRequest``); the
agent answers at once (``StorageAck``) and does the work in its own task, one request id
at a time (a repeat of a running request is only acknowledged). The outcome goes to
``lq.host.<id>.storage.report`` and is sent again until a controlplane acknowledges it. Every
``storage_state_interval_s`` the agent also reports the state and sizes of every
LimiQuantix pool it has (libvirt pools named by a pool id).

Importing from a URL downloads with aiohttp into a file under the agent's state
directory, streaming, with progress reported as it goes, and never more than the space
reserved for the volume; an upload through the API arrives the same way, relayed in
chunks on ``lq.host.<id>.upload.<volume id>``. The file is then streamed into the volume
through libvirt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import aiohttp
import msgspec

from agent import hv_pools, poolxml
from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from events import storage as se
from events import subjects
from events.bus import Bus
from events.codec import encode
from events.errors import LqError

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
PROGRESS_EVERY_S = 1.0


class StorageService:
    def __init__(
        self, bus: Bus, hv: Hypervisor, host_id: str, state_dir: Path, interval_s: float
    ) -> None:
        self.bus = bus
        self.hv = hv
        self.host_id = host_id
        self.state_dir = state_dir
        self.interval_s = interval_s
        self._running: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        delay = 0.2
        while True:
            try:
                sub = await self.bus.serve(
                    subjects.storage_subject(self.host_id), self.on_request, "agent"
                )
                break
            except LqError as exc:
                log.warning("host_id=%s cannot serve storage requests yet: %s", self.host_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        try:
            # now that requests reach us: ask for the pools attached to this host
            await self.send(se.StorageReport(host_id=self.host_id, op=se.HELLO))
            while True:
                await asyncio.sleep(self.interval_s)
                try:
                    await self.report_states()
                except (AgentError, LqError) as exc:
                    log.warning("host_id=%s pool states not reported: %s", self.host_id, exc)
        finally:
            await sub.unsubscribe()
            for task in self._running.values():
                task.cancel()
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def on_request(self, data: bytes) -> bytes:
        try:
            req = se.REQUEST_DECODER.decode(data)
        except ValueError as exc:
            return encode(se.StorageAck(ok=False, error=f"malformed request: {exc}"))
        if req.op_id not in self._running:
            task = asyncio.create_task(self._do(req), name=f"storage {req.op_id}")
            self._running[req.op_id] = task
            task.add_done_callback(self._forget)
        return encode(se.StorageAck(ok=True))

    def _forget(self, task: asyncio.Task[None]) -> None:
        for key, running in list(self._running.items()):
            if running is task:
                del self._running[key]

    async def report_states(self) -> None:
        names = await self.hv.run(hv_pools.lq_pool_names)
        if names:
            pools = await self.hv.run(hv_pools.states, names)
            await self.send(se.StorageReport(host_id=self.host_id, pools=pools))

    async def send(self, report: se.StorageReport, tries: int = 0) -> None:
        """Send until a controlplane acknowledges (``tries`` 0 = keep trying)."""
        delay, attempt = 0.2, 0
        while True:
            attempt += 1
            try:
                subject = subjects.storage_report_subject(self.host_id)
                raw = await self.bus.request(subject, encode(report), timeout=10.0)
                ack = se.ACK_DECODER.decode(raw)
                if ack.ok:
                    return
                log.warning("storage report refused for now: %s", ack.error)
            except (LqError, ValueError) as exc:
                log.info("storage report not delivered yet: %s", exc)
            if tries and attempt >= tries:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- the work --

    async def _do(self, req: se.StorageRequest) -> None:
        vol = req.volume
        op = "import" if req.op == "receive" else req.op  # an upload is an import's twin
        base = se.StorageReport(
            host_id=self.host_id, op_id=req.op_id, op=op, volume_id=vol.volume_id if vol else ""
        )
        try:
            report = await self._work(req, base)
        except (AgentError, OSError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("host_id=%s storage %s failed: %s", self.host_id, req.op_id, exc)
            report = _replace(base, ok=False, error=str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug: reported, so the volume does not wait forever
            log.exception("host_id=%s storage %s crashed", self.host_id, req.op_id)
            report = _replace(base, ok=False, error=f"agent error: {exc!r}")
        if req.op != "undefine" and not (req.op == "define" and report.pools):
            try:
                pools = await self.hv.run(hv_pools.states, [req.pool.pool_id])
                report = _replace(report, pools=pools)
            except AgentError as exc:
                log.debug("no pool state after %s: %s", req.op_id, exc)
        await self.send(report)

    async def _work(self, req: se.StorageRequest, base: se.StorageReport) -> se.StorageReport:
        spec, vol = req.pool, req.volume
        if req.op == "define":
            state = await self.hv.run(hv_pools.define, spec)
            if state.state != "active" and spec.pool_type != "dir":
                await self.send(_replace(base, pools=[state]), tries=1)  # defined, starting
                state = await self.hv.run_long(hv_pools.start, spec)
            return _replace(base, pools=[state])
        if req.op == "undefine":
            await self.hv.run(hv_pools.undefine, spec.pool_id)
            return base
        if req.op == "refresh":
            state = await self.hv.run(hv_pools.refresh, spec.pool_id)
            return _replace(base, pools=[state])
        if vol is None:
            raise ValueError(f"{req.op} needs a volume")
        if req.op == "delete":
            await self.hv.run(hv_pools.delete_volume, spec, vol)
            return base
        if req.op == "create":
            facts = await self.hv.run(hv_pools.create_volume, spec, vol)
        elif req.op == "resize":
            facts = await self.hv.run(hv_pools.resize_volume, spec, vol)
        elif req.op == "clone" and req.source is not None:
            facts = await self.hv.run_long(hv_pools.clone_volume, spec, vol, req.source)
        elif req.op == "import":
            return await self._import(req, base, vol)
        elif req.op == "receive":
            return await self._receive(req, base, vol)
        else:
            raise ValueError(f"unknown storage operation {req.op}")
        path, capacity, allocation = facts
        return _replace(base, path=path, size_bytes=capacity, allocation_bytes=allocation)

    async def _import(
        self, req: se.StorageRequest, base: se.StorageReport, vol: se.VolumeSpec
    ) -> se.StorageReport:
        folder = self.state_dir / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{vol.volume_id}.part"
        try:
            await self._download(req.url, target, vol.size_bytes, base)
            with target.open("rb") as fh:
                virtual = poolxml.qcow2_virtual_size(fh.read(32))
            if vol.format == "qcow2" and virtual is None:
                raise ValueError(f"{req.url} is not a qcow2 image")
            path, capacity, allocation = await self.hv.run_long(
                hv_pools.upload_volume, req.pool, vol, str(target)
            )
        finally:
            target.unlink(missing_ok=True)
        size = virtual if virtual is not None else capacity
        return _replace(base, path=path, size_bytes=size, allocation_bytes=allocation)

    async def _receive(
        self, req: se.StorageRequest, base: se.StorageReport, vol: se.VolumeSpec
    ) -> se.StorageReport:
        """An upload relayed by the API: chunks on ``upload_subject`` until an empty one."""
        folder = self.state_dir / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{vol.volume_id}.part"
        done = asyncio.Event()
        received = 0

        async def chunk(data: bytes) -> bytes:
            nonlocal received
            if done.is_set():
                return encode(se.StorageAck(ok=False, error="the upload has ended"))
            if not data:
                done.set()
                return encode(se.StorageAck(ok=True))
            received += len(data)
            if received > vol.size_bytes:
                done.set()
                return encode(se.StorageAck(ok=False, error="more bytes than announced"))
            await asyncio.to_thread(_append, target, data)
            return encode(se.StorageAck(ok=True))

        target.unlink(missing_ok=True)
        target.touch()
        subject = subjects.upload_subject(self.host_id, vol.volume_id)
        sub = await self.bus.serve(subject, chunk, "agent")
        try:
            while not done.is_set():  # the relay may pause, never for a minute
                seen = received
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 60.0)
                if not done.is_set() and received == seen:
                    raise ValueError("the upload stalled for 60 s")
            if received > vol.size_bytes:
                raise ValueError(f"the upload has more than the {vol.size_bytes} bytes announced")
            with target.open("rb") as fh:
                virtual = poolxml.qcow2_virtual_size(fh.read(32))
            if vol.format == "qcow2" and virtual is None:
                raise ValueError("the upload is not a qcow2 image")
            path, capacity, allocation = await self.hv.run_long(
                hv_pools.upload_volume, req.pool, vol, str(target)
            )
        finally:
            await sub.unsubscribe()
            target.unlink(missing_ok=True)
        size = virtual if virtual is not None else capacity
        return _replace(base, path=path, size_bytes=size, allocation_bytes=allocation)

    async def _download(self, url: str, target: Path, limit: int, base: se.StorageReport) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(url) as resp,
        ):
            if resp.status != 200:
                raise ValueError(f"GET {url} answered {resp.status}")
            total = resp.content_length or 0
            if total > limit:
                raise ValueError(f"{url} has {total} bytes, more than the {limit} reserved")
            done, last = 0, time.monotonic()
            with target.open("wb") as fh:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    done += len(chunk)
                    if done > limit:
                        raise ValueError(f"{url} is larger than the {limit} bytes reserved")
                    await asyncio.to_thread(fh.write, chunk)
                    if total and time.monotonic() - last >= PROGRESS_EVERY_S:
                        last = time.monotonic()
                        percent = min(99, done * 100 // total)
                        await self.send(_replace(base, percent=percent), tries=1)


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def _replace(report: se.StorageReport, **changes: object) -> se.StorageReport:
    return msgspec.structs.replace(report, **changes)
