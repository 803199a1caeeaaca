"""Per-host NATS users on a real nats-server with authorization on (docs/security.md).

The stack runs as ``lq up`` runs it (``nats_auth = "embedded"``): agents enrol with the
join credential, get their own users, and do their whole job (enrol → order → report) with
them. A host's credentials cannot publish another host's reports, fetch its orders, read
its replies or write its heartbeat, nor reach another host's console sessions, uploads,
storage reports or network hello; the server refuses and logs each attempt, and a body
naming another host than its subject is rejected by the controlplane. A host whose
credentials are revoked is cut off, and comes back only with a new key.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from nats.aio.client import Client as NATS

from controlplane.natsauth import HostKeys
from events import natsauth, subjects
from events import netsync as ns
from events import reports as rp
from events import settings as settings_mod
from events import storage as se
from events.base import new_id, utcnow
from events.bus import Bus
from events.codec import encode
from events.natsauth import ClientAuth
from events.settings import Settings
from lq.embedded import NatsServer, start_nats
from tests.integration.conftest import Stack, StackFactory
from tests.integration.lifecycle import make_vm, vm_view
from tests.storage.helpers import make_pool, wait_pool, wait_volume

AUTH = {"nats_auth": "embedded"}


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[NatsServer]:
    """The embedded nats-server as ``lq up`` starts it: the data dir's keys, auth on."""
    settings = _settings(tmp_path)
    natsauth.bootstrap(settings)
    srv = start_nats(natsauth.nats_dir(settings), authorization=True)
    yield srv
    srv.stop()


@pytest.fixture
def nats_url(auth_server: NatsServer) -> str:
    """Overrides the plain server of tests/conftest.py for ``make_stack``."""
    return auth_server.url


def _settings(tmp_path: Path) -> Settings:
    # the same data dir as make_stack's
    return settings_mod.load({"data_dir": str(tmp_path / "data"), **AUTH}, env={})


class Client:
    """A raw connection under some identity, recording the server's refusals."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: Any = None

    async def connect(self, url: str, auth: ClientAuth | None) -> Client:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        opts: dict[str, Any] = {}
        if auth is not None:
            opts = {"nkeys_seed": auth.seed_file, "inbox_prefix": auth.inbox_prefix}
        self.nc = NATS()
        try:
            await self.nc.connect(
                url, error_cb=on_error, allow_reconnect=False, name="test-client", **opts
            )
        except BaseException:
            await self.nc.close()
            if self.nc._transport is not None:
                self.nc._transport.close()
            raise
        return self

    async def refused(self, fragment: str, timeout: float = 3.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if any(fragment.lower() in e.lower() for e in self.errors):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no refusal for {fragment!r}; errors: {self.errors}")

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    for c in made:
        await c.close()


def _host_auth(stack: Stack, name: str) -> ClientAuth:
    agent = stack.agents[name]
    assert agent.host_id is not None
    return natsauth.host_auth(agent.state_dir / natsauth.HOST_SEED, agent.host_id)


async def _two_hosts(make_stack: StackFactory) -> tuple[Stack, str, str]:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)], **AUTH)
    a, b = stack.agents["sim-1"].host_id, stack.agents["sim-2"].host_id
    assert a and b and a != b
    return stack, a, b


def _report(host_id: str, body: rp.AnyReport) -> bytes:
    return encode(rp.Report(report_id=new_id(), host_id=host_id, sent_at=utcnow(), body=body))


async def test_hosts_do_their_own_job_with_their_own_users(
    make_stack: StackFactory, auth_server: NatsServer
) -> None:
    stack, a, b = await _two_hosts(make_stack)
    for name in ("sim-1", "sim-2"):
        seed = stack.agents[name].state_dir / natsauth.HOST_SEED
        assert seed.stat().st_mode & 0o777 == 0o600
    conf = (natsauth.nats_dir(stack.settings) / natsauth.AUTH_CONF).read_text()
    assert f"agent-{a}" in conf and f"agent-{b}" in conf
    assert not re.search(r"\bS[UAON][A-Z2-7]{50,}", conf)  # public keys only, never a seed
    # enrol → place → order → report → state, on both hosts
    for _ in range(2):
        vm_id = await make_vm(stack, start=True)
        assert (await vm_view(stack, vm_id))["state"] == "running"
    log = (auth_server.store_dir / "nats.log").read_text()
    assert "Violation" not in log, [ln for ln in log.splitlines() if "Violation" in ln][:5]


async def test_a_host_cannot_act_for_another(
    make_stack: StackFactory,
    auth_server: NatsServer,
    clients: list[Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack, a, b = await _two_hosts(make_stack)
    vm_on_b = await make_vm(stack, start=True, host_id=b)
    host_a = await Client().connect(auth_server.url, _host_auth(stack, "sim-1"))
    clients.append(host_a)
    nc = host_a.nc
    forged = _report(b, rp.DomainChanged(vm_id=vm_on_b, state="stopped", reason="forged"))

    # a forged report on B's subject: refused by the server, logged by it
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await nc.request(subjects.report_subject(b), forged, timeout=1.0)
    await host_a.refused(f'publish to "{subjects.report_subject(b)}"')
    # B's orders: neither its consumer nor the subject, nor other hosts' replies
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await nc.request(f"$JS.API.CONSUMER.MSG.NEXT.LQ_ORDERS.agent-{b}", b"1", timeout=1.0)
    await host_a.refused(f"agent-{b}")
    for subject in (
        subjects.order_subject(b),
        subjects.ORDERS_ALL,
        f"{natsauth.host_inbox(b)}.>",
        "_INBOX.>",
        "lq.evt.>",
        f"$KV.{subjects.HEARTBEAT_BUCKET}.{b}",
        f"$KV.{subjects.HEARTBEAT_BUCKET}.>",
    ):
        await nc.subscribe(subject)
        await host_a.refused(f'subscription to "{subject}"')
    # B's heartbeat and lease, the event log, a consumer of its own making
    for subject in (
        f"$KV.{subjects.HEARTBEAT_BUCKET}.{b}",
        f"$KV.{subjects.HOST_LEASE_BUCKET}.{b}",
        "lq.evt.vm.forged",
        f"$JS.API.CONSUMER.CREATE.LQ_ORDERS.agent-{b}",
        f"$JS.API.STREAM.MSG.GET.{subjects.ORDERS_STREAM}",
        f"$JS.API.STREAM.MSG.GET.KV_{subjects.HEARTBEAT_BUCKET}",
        f"$JS.API.DIRECT.GET.KV_{subjects.HEARTBEAT_BUCKET}.$KV.{subjects.HEARTBEAT_BUCKET}.{b}",
    ):
        await nc.publish(subject, b"{}")
        await host_a.refused(f'publish to "{subject}"')
    server_log = (auth_server.store_dir / "nats.log").read_text()
    assert f'"{subjects.report_subject(b)}"' in server_log and "Violation" in server_log

    # A's own report about B's VM reaches the controlplane, which rejects and logs it
    caplog.set_level(logging.WARNING, logger="controlplane.agents")
    ack = await nc.request(
        subjects.report_subject(a),
        _report(a, rp.DomainChanged(vm_id=vm_on_b, state="stopped", reason="forged")),
        timeout=5.0,
    )
    assert b'"seq"' in ack.data  # stored: A may report, but only about itself
    for _ in range(100):
        if any(
            "rejected report" in r.getMessage() and vm_on_b in r.getMessage()
            for r in caplog.records
        ):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the controlplane did not log the rejected report")
    assert (await vm_view(stack, vm_on_b))["state"] == "running"


async def test_console_upload_and_storage_subjects_are_the_hosts_own(
    make_stack: StackFactory,
    auth_server: NatsServer,
    clients: list[Client],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)], storage_allowed_roots=root, **AUTH)
    a, b = stack.agents["sim-1"].host_id, stack.agents["sim-2"].host_id
    assert a and b and a != b
    # the real flows under host users: A reports its pool's state, takes an upload
    pool_id = await make_pool(stack, root, capacity_gib=4, host_ids=[a])
    await wait_pool(stack, pool_id)
    data = b"x" * (se.UPLOAD_CHUNK + 4096)
    status, made, _ = await stack.request(
        "POST",
        f"/api/v1/volumes/upload?pool_id={pool_id}&name=up.raw&format=raw",
        data=io.BytesIO(data),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
    )
    assert status == 202, made
    done = await wait_volume(stack, made["volume_id"])
    assert done is not None and done["size_bytes"] == len(data)
    server_log = (auth_server.store_dir / "nats.log").read_text()
    assert "Violation" not in server_log, [x for x in server_log.splitlines() if "Violation" in x]

    host_a = await Client().connect(auth_server.url, _host_auth(stack, "sim-1"))
    clients.append(host_a)
    nc = host_a.nc
    # A hears its own console input and uploads (what the service user sends there)
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def on_msg(msg: Any) -> None:
        await heard.put(msg.subject)

    own = [
        subjects.console_stream_subject(a, "s1", "in"),
        subjects.console_stream_subject(a, "s1", "close"),
        subjects.upload_subject(a, "v1"),
    ]
    for subject in own:
        await nc.subscribe(subject, cb=on_msg)
    await nc.flush()
    svc = await Bus.connect(
        auth_server.url, name="test-svc", auth=natsauth.service_auth(stack.settings)
    )
    try:
        for subject in own:
            await svc.publish(subject, b"x")
            assert await asyncio.wait_for(heard.get(), 5.0) == subject
    finally:
        await svc.close()
    assert not host_a.errors, host_a.errors

    # but not B's sessions and uploads, nor every host's at once
    for subject in (
        subjects.console_stream_subject(b, "*", "in"),
        subjects.console_stream_subject(b, "*", "out"),
        subjects.console_stream_subject(b, "*", "close"),
        subjects.console_stream_subject("*", "*", "in"),
        subjects.console_stream_subject("*", "*", "out"),
        subjects.upload_subject(b, "*"),
        subjects.upload_subject("*", "*"),
        subjects.STORAGE_REPORTS_ALL,
        subjects.NET_HELLOS_ALL,
    ):
        await nc.subscribe(subject)
        await host_a.refused(f'subscription to "{subject}"')
    # nor speak for B: its storage report, network hello, console output or end
    for subject in (
        subjects.storage_report_subject(b),
        subjects.net_hello_subject(b),
        subjects.console_stream_subject(b, "s1", "out"),
        subjects.console_stream_subject(b, "s1", "close"),
        subjects.upload_subject(b, "v1"),
    ):
        await nc.publish(subject, b"{}")
        await host_a.refused(f'publish to "{subject}"')

    # on its own subjects, a body naming B is rejected and logged by the controlplane
    caplog.set_level(logging.WARNING, logger="controlplane")
    report = se.StorageReport(host_id=b, pools=[])
    reply = await nc.request(subjects.storage_report_subject(a), encode(report), timeout=5.0)
    ack = se.ACK_DECODER.decode(reply.data)
    assert not ack.ok and "another host" in ack.error
    await nc.request(subjects.net_hello_subject(a), encode(ns.NetHello(host_id=b)), timeout=5.0)
    for words in ("rejected storage report", "rejected network hello"):
        assert any(words in r.getMessage() and b in r.getMessage() for r in caplog.records), words


async def test_enrolment_cannot_take_over_an_enrolled_host(
    make_stack: StackFactory, auth_server: NatsServer, clients: list[Client], tmp_path: Path
) -> None:
    stack, _, b = await _two_hosts(make_stack)
    join = await Client().connect(auth_server.url, natsauth.enroll_auth(stack.settings))
    clients.append(join)
    # the join credential may enrol, nothing else
    await join.nc.publish(subjects.report_subject(b), b"{}")
    await join.refused("publish to")
    # presenting B's name and id with another key: refused
    seed = tmp_path / "intruder.nk"
    natsauth.create_seed(seed)
    request = rp.EnrollRequest(host_id=b, name="sim-2", uri="test:///x", cpus=1, memory_mib=1)
    reply = rp.ENROLL_REPLY_DECODER.decode(
        (await join.nc.request(subjects.ENROLL, encode(natsauth.prove(request, seed)))).data
    )
    assert not reply.ok and "another key" in reply.error
    # ... or with B's public key but no proof of holding it
    forged = natsauth.prove(request, seed)
    b_key = natsauth.public_key(stack.agents["sim-2"].state_dir / natsauth.HOST_SEED)
    forged = rp.EnrollRequest(**{**_fields(forged), "nkey": b_key})
    reply = rp.ENROLL_REPLY_DECODER.decode(
        (await join.nc.request(subjects.ENROLL, encode(forged))).data
    )
    assert not reply.ok and "proof" in reply.error
    # and without a key at all
    reply = rp.ENROLL_REPLY_DECODER.decode(
        (await join.nc.request(subjects.ENROLL, encode(request))).data
    )
    assert not reply.ok


def _fields(req: rp.EnrollRequest) -> dict[str, Any]:
    import msgspec

    out: dict[str, Any] = msgspec.structs.asdict(req)
    return out


async def test_revoked_credentials_cut_the_host_off_until_it_has_a_new_key(
    make_stack: StackFactory, auth_server: NatsServer, clients: list[Client]
) -> None:
    stack, a, _ = await _two_hosts(make_stack)
    agent_a = stack.agents["sim-1"]
    old_auth = _host_auth(stack, "sim-1")
    old_key = natsauth.public_key(old_auth.seed_file)
    svc = await Bus.connect(
        auth_server.url, name="test-svc", auth=natsauth.service_auth(stack.settings)
    )
    try:
        await stack.stop_host("sim-1")
        await asyncio.sleep(0.5)
        await HostKeys(svc, stack.settings).revoke(a)
        # the old key is refused at once (the server reloaded its users)
        for _ in range(40):
            try:
                c = await Client().connect(auth_server.url, old_auth)
            except (nats.errors.Error, OSError):
                break
            clients.append(c)
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the revoked key still connects")
        # the agent restarts: refused, it makes a new key and enrols again as the same host
        again = await stack.add_host("sim-1")
        assert again.host_id == a
        new_key = natsauth.public_key(agent_a.state_dir / natsauth.HOST_SEED)
        assert new_key != old_key
        stored = await svc.credential(natsauth.HOST_KEY_PREFIX + a)
        assert stored == new_key.encode()
        vm_id = await make_vm(stack, start=True, host_id=a)
        assert (await vm_view(stack, vm_id))["state"] == "running"
    finally:
        await svc.close()


async def test_the_service_user_is_needed_for_everything_else(
    auth_server: NatsServer, tmp_path: Path
) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization"):
        await Client().connect(auth_server.url, None)
    settings = _settings(tmp_path)
    bus = await Bus.connect(auth_server.url, name="svc", auth=natsauth.service_auth(settings))
    try:
        await bus.provision(settings)
    finally:
        await bus.close()


def test_permissions_name_only_the_hosts_own_subjects() -> None:
    perms = natsauth.host_permissions("h1")
    allowed = perms["publish"]["allow"] + perms["subscribe"]["allow"]
    assert not [s for s in allowed if "h2" in s or s in ("lq.>", ">", "$JS.API.>", "_INBOX.>")]
    assert "lq.host.h1.report" in perms["publish"]["allow"]
    own = ("lq.host.h1.", "$", "_INBOX_HOST.h1.")  # every subject of its own names it
    assert all(s.startswith(own) or s == subjects.ENROLL for s in allowed), allowed
    assert "_INBOX_HOST.h1.>" in perms["subscribe"]["allow"]
    for bad in ("a.b", "*", ">", "", "x y"):
        with pytest.raises(ValueError):
            natsauth.host_permissions(bad)


def test_a_proof_binds_the_key_to_the_request(tmp_path: Path) -> None:
    seed, other = tmp_path / "a.nk", tmp_path / "b.nk"
    key = natsauth.create_seed(seed)
    assert natsauth.create_seed(seed) == key  # an existing seed is kept
    assert seed.stat().st_mode & 0o777 == 0o600
    natsauth.create_seed(other)
    req = natsauth.prove(
        rp.EnrollRequest(host_id="h1", name="n", uri="u", cpus=1, memory_mib=1), seed
    )
    assert req.nkey == key and req.nkey_proof
    assert natsauth.verify(key, natsauth.enroll_proof_payload(req), req.nkey_proof)
    moved = rp.EnrollRequest(**{**_fields(req), "host_id": "h2"})
    assert not natsauth.verify(key, natsauth.enroll_proof_payload(moved), req.nkey_proof)
    stolen = rp.EnrollRequest(**{**_fields(req), "nkey": natsauth.public_key(other)})
    assert not natsauth.verify(
        natsauth.public_key(other), natsauth.enroll_proof_payload(stolen), req.nkey_proof
    )
    assert not natsauth.verify("not-a-key", b"x", req.nkey_proof)
