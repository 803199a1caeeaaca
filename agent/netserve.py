"""The agent's side of network realisation: answer ``lq.host.<id>.net`` requests.

The controlplane sends the desired state of networks, nwfilters and NIC filters
(``events.netsync.NetSync``); this applies it through ``agent.hv_network`` one request at a
time and answers what the host now has. The ids of the networks it realised are kept in
``<agent state dir>/networks.json``, so that a full sync (everything the host should have)
removes the ones deleted while this host was away, and only those: networks an operator
defined by hand are never touched; ``lq-sg-*`` filters not in a full sync are removed.
On start the agent says hello on ``lq.host.<id>.net.hello`` so that a controlplane sends it
everything (a restarted agent, a simulated host whose networks lived in memory). Failures
are per item: one network that cannot start (its host bridge is missing) does not keep the
others from being realised.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from agent import hv_network
from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from events import netsync as ns
from events import subjects
from events.bus import Bus
from events.codec import encode
from events.errors import LqError

log = logging.getLogger(__name__)

HELLO_TRIES = 30


class NetServer:
    def __init__(self, hv: Hypervisor, host_id: str, state_dir: Path | None = None) -> None:
        self.hv = hv
        self.host_id = host_id
        self._lock = asyncio.Lock()
        self._record = state_dir / "networks.json" if state_dir is not None else None
        self._realised: set[str] = self._load()

    def _load(self) -> set[str]:
        if self._record is None or not self._record.is_file():
            return set()
        try:
            return {str(x) for x in json.loads(self._record.read_text())}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self._record, exc)
            return set()

    def _save(self) -> None:
        if self._record is not None:
            self._record.write_text(json.dumps(sorted(self._realised)))

    async def handle(self, data: bytes) -> bytes:
        sync = ns.NET_SYNC_DECODER.decode(data)
        async with self._lock:
            reply = await self.apply(sync)
        return encode(reply)

    async def apply(self, sync: ns.NetSync) -> ns.NetSyncReply:
        results: list[ns.NetworkResult] = []
        errors: list[str] = []
        gone = list(sync.remove_networks)
        if sync.full:
            gone += sorted(self._realised - {n.network_id for n in sync.networks})
        for nid in gone:
            try:
                await self.hv.run(hv_network.remove_network, nid)
                self._realised.discard(nid)
            except Exception as exc:  # libvirt errors and agent errors alike, per item
                errors.append(f"network {nid} not removed: {_text(exc)}")
        for spec in sync.networks:
            try:
                state, detail = await self.hv.run(hv_network.ensure_network, spec)
                self._realised.add(spec.network_id)
            except Exception as exc:
                state, detail = "error", _text(exc)
                log.warning("network %s (%s) not realised: %s", spec.name, spec.network_id, detail)
            results.append(ns.NetworkResult(network_id=spec.network_id, state=state, detail=detail))  # type: ignore[arg-type]
        for f in sync.filters:
            try:
                await self.hv.run(hv_network.define_filter, f)
            except Exception as exc:
                errors.append(f"filter {ns.filter_name(f.group_id)} not defined: {_text(exc)}")
        for b in sync.bindings:
            try:
                note = await self.hv.run(hv_network.bind, b)
                if note:
                    log.info("vm %s NIC %s: %s", b.vm_id, b.mac, note)
            except Exception as exc:
                errors.append(f"vm {b.vm_id} NIC {b.mac} filter not set: {_text(exc)}")
        stale = list(sync.remove_filters)
        if sync.full:
            wanted = {ns.filter_name(f.group_id) for f in sync.filters}
            try:
                stale += [
                    n for n in await self.hv.run(hv_network.managed_filters) if n not in wanted
                ]
            except Exception as exc:
                log.debug("cannot list nwfilters: %s", _text(exc))
        for name in stale:  # after the bindings that stopped using them
            try:
                await self.hv.run(hv_network.remove_filter, name)
            except Exception as exc:
                errors.append(f"filter {name} not removed: {_text(exc)}")
        self._save()
        return ns.NetSyncReply(networks=results, errors=errors)


def _text(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


async def serve_networks(
    bus: Bus, hv: Hypervisor, host_id: str, state_dir: Path | None = None
) -> None:
    """Answer network requests until cancelled; say hello once subscribed."""
    server = NetServer(hv, host_id, state_dir)
    sub = await bus.serve(subjects.net_subject(host_id), server.handle, queue=f"agent-{host_id}")
    try:
        hello = encode(ns.NetHello(host_id=host_id))
        for attempt in range(HELLO_TRIES):
            try:
                await bus.request(subjects.net_hello_subject(host_id), hello, timeout=5.0)
                break
            except (LqError, AgentError) as exc:
                log.info("host_id=%s network hello not answered yet: %s", host_id, exc)
                await asyncio.sleep(min(0.5 * 2**attempt, 10.0))
        await asyncio.Event().wait()
    finally:
        await sub.unsubscribe()
