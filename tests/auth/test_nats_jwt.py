"""Per-host NATS users as JWTs, against a real nats-server in operator mode.

A whole stack runs in ``nats_auth = "jwt"`` mode: the controlplane and projector connect
with a service user's ``.creds``, an agent enrols with the join credential's ``.creds``,
receives its own user JWT in the enrolment answer, renews it and reconnects with it before
it expires, and runs a VM as that user after the first JWT's expiry; its JWT cannot
publish another host's report. The raw tests below show the mechanism alone.

The server is configured once with an operator JWT and an account (memory resolver). A
host's user JWT is signed by the account key *after* the server started, and the host
connects at once — no reload. Its permissions are ``events.natsauth.host_permissions``:
its own report subject is accepted, another host's report and console are refused with a
permissions violation, and a user signed by a key the operator does not trust is refused.
JetStream is enabled for the account.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import nkeys  # type: ignore[import-untyped]
import pytest
from nats.aio.client import Client as NATS

from agent.service import Agent
from agent.simhost import write_node_file
from events import natsauth, natsjwt, subjects
from events.settings import load
from lq.embedded import nats_server_binary
from tests.integration.conftest import StackFactory, _plain, make_stack  # noqa: F401


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """What ``events.natsjwt.bootstrap`` made: its directory and the account's keys."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.conf = natsjwt.bootstrap(directory, natsauth.enroll_permissions())
        self.account = (directory / natsjwt.ACCOUNT_SEED).read_bytes().strip()
        self.account_public = natsjwt.public_key(self.account)


@pytest.fixture
def operator_mode(tmp_path: Path) -> Iterator[tuple[str, Operator]]:
    op = Operator(tmp_path / "operator")
    port = _port()
    conf = tmp_path / "server.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\n"
        f'include "{op.conf.relative_to(tmp_path)}"\n'
        f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
    )
    log = (tmp_path / "nats.log").open("w")
    proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError((tmp_path / "nats.log").read_text()[-2000:])
        time.sleep(0.02)
    try:
        yield f"nats://127.0.0.1:{port}", op
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


class Host:
    def __init__(self, tmp_path: Path, host_id: str, account_seed: bytes) -> None:
        seed = natsjwt.new_seed(nkeys.PREFIX_BYTE_USER)
        token = natsjwt.user_jwt(
            account_seed, natsjwt.public_key(seed), host_id, natsauth.host_permissions(host_id)
        )
        self.creds = tmp_path / f"{host_id}.creds"
        self.creds.write_text(natsjwt.creds(token, seed))
        self.host_id = host_id
        self.errors: list[str] = []

    async def connect(self, url: str) -> Any:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        nc = NATS()
        try:
            await nc.connect(
                url,
                user_credentials=str(self.creds),
                inbox_prefix=natsauth.host_inbox(self.host_id),
                error_cb=on_error,
                allow_reconnect=False,
                connect_timeout=5,
            )
        except BaseException:
            await nc.close()
            if nc._transport is not None:  # a refused connect leaves its socket open
                nc._transport.close()  # type: ignore[no-untyped-call]
            raise
        return nc

    async def refused(self, fragment: str) -> None:
        for _ in range(60):
            if any(fragment.lower() in e.lower() for e in self.errors):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no refusal for {fragment!r}: {self.errors}")


@pytest.fixture
async def closing() -> AsyncIterator[list[Any]]:
    conns: list[Any] = []
    yield conns
    for nc in conns:
        if not nc.is_closed:
            await nc.close()


async def test_host_user_jwts_need_no_reload_and_keep_to_their_subjects(
    operator_mode: tuple[str, Operator], tmp_path: Path, closing: list[Any]
) -> None:
    url, op = operator_mode
    # a service user of the account (no restriction) sees what hosts publish
    service = Host(tmp_path, "service", op.account)
    service.creds.write_text(
        natsjwt.creds(
            natsjwt.user_jwt(
                op.account, natsjwt.public_key(s := natsjwt.new_seed(nkeys.PREFIX_BYTE_USER)), "svc"
            ),
            s,
        )
    )
    svc = await nats.connect(
        url, user_credentials=str(service.creds), allow_reconnect=False, connect_timeout=5
    )
    closing.append(svc)
    # JetStream works in the account (the event store, orders and buckets live there)
    info = await svc.jetstream().add_stream(name="LQ_PROBE", subjects=["lq.probe.>"])
    assert info.config.name == "LQ_PROBE"
    seen: list[str] = []

    async def record(msg: Any) -> None:
        seen.append(msg.subject)

    await svc.subscribe("lq.host.>", cb=record)
    await svc.flush()

    # two hosts enrolled after the server started: no reload, they connect at once
    h1, h2 = Host(tmp_path, "h1", op.account), Host(tmp_path, "h2", op.account)
    nc1 = await h1.connect(url)
    closing.append(nc1)
    await nc1.publish(subjects.report_subject("h1"), b"mine")
    await nc1.flush()
    for _ in range(60):
        if subjects.report_subject("h1") in seen:
            break
        await asyncio.sleep(0.05)
    assert subjects.report_subject("h1") in seen

    await nc1.publish(subjects.report_subject("h2"), b"forged")
    await h1.refused('Permissions Violation for Publish to "lq.host.h2.report"')
    await nc1.subscribe(subjects.console_subject("h2"))
    await h1.refused('Permissions Violation for Subscription to "lq.host.h2.console"')
    assert subjects.report_subject("h2") not in seen
    nc2 = await h2.connect(url)  # the other host publishes its own report
    closing.append(nc2)
    await nc2.publish(subjects.report_subject("h2"), b"its own")
    await nc2.flush()
    for _ in range(60):
        if subjects.report_subject("h2") in seen:
            break
        await asyncio.sleep(0.05)
    assert subjects.report_subject("h2") in seen and not h2.errors

    # an expired JWT ends the connection: a host that is not renewed is out
    seed = natsjwt.new_seed(nkeys.PREFIX_BYTE_USER)
    short = natsjwt.user_jwt(
        op.account, natsjwt.public_key(seed), "h4", natsauth.host_permissions("h4"), ttl_s=1
    )
    h4 = Host(tmp_path, "h4", op.account)
    h4.creds.write_text(natsjwt.creds(short, seed))
    nc4 = await h4.connect(url)
    closing.append(nc4)
    for _ in range(80):
        if nc4.is_closed:
            break
        await asyncio.sleep(0.05)
    assert nc4.is_closed and "expired" in str(nc4.last_error).lower(), nc4.last_error

    # a user signed by an account the operator never signed is refused outright
    rogue = Host(tmp_path, "h3", natsjwt.new_seed(nkeys.PREFIX_BYTE_ACCOUNT))
    with pytest.raises(Exception, match=r"(?i)authorization"):
        closing.append(await rogue.connect(url))


def test_the_jwt_carries_the_hosts_permissions() -> None:
    account = natsjwt.new_seed(nkeys.PREFIX_BYTE_ACCOUNT)
    user = natsjwt.public_key(natsjwt.new_seed(nkeys.PREFIX_BYTE_USER))
    claims = natsjwt.decode_claims(
        natsjwt.user_jwt(account, user, "h1", natsauth.host_permissions("h1"), ttl_s=60)
    )
    assert claims["iss"] == natsjwt.public_key(account) and claims["sub"] == user
    assert claims["exp"] - claims["iat"] == 60
    assert subjects.report_subject("h1") in claims["nats"]["pub"]["allow"]
    assert all(
        "h2" not in s for s in claims["nats"]["pub"]["allow"] + claims["nats"]["sub"]["allow"]
    )
    assert claims["nats"]["resp"] == {"max": 1, "ttl": 0}


@pytest.fixture
def nats_url(operator_mode: tuple[str, Operator]) -> str:
    """make_stack's NATS: the operator-mode server."""
    return operator_mode[0]


async def test_a_stack_in_jwt_mode(
    operator_mode: tuple[str, Operator],
    make_stack: StackFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    url, op = operator_mode
    join = str(op.dir / natsjwt.JOIN_CREDS)
    jwt_mode = {
        "nats_auth": "jwt",
        "nats_creds_file": str(op.dir / natsjwt.SERVICE_CREDS),
        "nats_account_seed_file": str(op.dir / natsjwt.ACCOUNT_SEED),
        "nats_host_jwt_ttl_s": 4.0,  # short, so that it expires and is renewed here
    }
    stack = await make_stack(**jwt_mode)
    uri = write_node_file(stack.hosts_dir, "sim-1", cpus=4, memory_mib=4096)
    settings = load({**_plain(stack.settings), "agent_name": "sim-1", "nats_creds_file": join})
    agent, stop = Agent(settings, hypervisor_uri=uri), asyncio.Event()
    stack.agent_stops["sim-1"] = stop
    stack.tasks.append(asyncio.create_task(agent.run(stop)))
    await asyncio.wait_for(agent.ready.wait(), 20)
    host_id = agent.host_id
    assert host_id is not None
    creds = agent.state_dir / natsauth.HOST_CREDS
    claims = natsjwt.decode_claims(creds.read_text().split("\n")[1])
    assert claims["iss"] == op.account_public and claims["name"] == host_id
    assert (creds.stat().st_mode & 0o777) == 0o600
    # the JWT expires: the agent renews it and reconnects with it in time
    first_exp = claims["exp"]
    for _ in range(200):
        if natsjwt.decode_claims(creds.read_text().split("\n")[1])["exp"] > first_exp:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the host's JWT was not renewed")
    await asyncio.sleep(max(0.0, first_exp - time.time() + 1.5))
    # orders reach the host through its own consumer, as its own user
    body = {"name": "jwt-vm", "vcpus": 1, "memory_mib": 64, "start": True}
    accepted = await stack.command("POST", "/api/v1/vms", json=body)
    assert (await stack.wait_task(accepted["task_id"]))["state"] == "succeeded"
    # the host's JWT cannot speak for another host
    host = Host(tmp_path, host_id, op.account)
    host.creds = creds
    nc = await host.connect(url)
    try:
        await nc.publish(subjects.report_subject("other-host"), b"forged")
        await host.refused('permissions violation for publish to "lq.host.other-host.report"')
    finally:
        await nc.close()
    await stack.stop_host("sim-1")
