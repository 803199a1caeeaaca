"""One-time host join tokens: created once, spent once, revocable, auditable, never shown again.

On a stack that requires join tokens, a real agent started with a token enrols and gets
the token's labels and cluster; the same token presented again by another host, a revoked
token, a malformed one and no token at all are refused over ``lq.enroll`` with the reason.
The list shows each token's state and never a secret; the history has created/used/revoked.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.service import Agent
from agent.simhost import write_node_file
from controlplane.domain import join_token as jd
from controlplane.domain.errors import InvalidState
from events import subjects
from events.bus import Bus
from events.codec import encode
from events.reports import ENROLL_REPLY_DECODER, EnrollReply, EnrollRequest
from events.settings import load
from tests.integration.conftest import StackFactory, _plain, make_stack  # noqa: F401


async def enroll(bus: Bus, name: str, token: str | None) -> EnrollReply:
    req = EnrollRequest(name=name, uri="test:///x", cpus=4, memory_mib=4096, join_token=token)
    return ENROLL_REPLY_DECODER.decode(await bus.request(subjects.ENROLL, encode(req)))


async def test_join_tokens_admit_one_host_each(make_stack: StackFactory) -> None:  # noqa: F811
    stack = await make_stack(join_token_required=True)
    status, cluster, _ = await stack.request("POST", "/api/v1/clusters", json={"name": "rack4"})
    assert status == 201, cluster
    body = {
        "label": "rack 4, slot 1",
        "labels": {"rack": "r4"},
        "cluster_id": cluster["cluster_id"],
    }
    status, created, _ = await stack.request("POST", "/api/v1/join-tokens", json=body)
    assert status == 201, created
    secret = created["token"]
    assert secret.startswith("lqj_") and created["label"] == "rack 4, slot 1"
    bad = [{"expires_in_s": 5}, {"labels": {"bad key!": "x"}}, {"cluster_id": "nope"}, {"x": 1}]
    for wrong in bad:
        status, out, _ = await stack.request("POST", "/api/v1/join-tokens", json=wrong)
        assert status in (400, 422), (wrong, status, out)

    # a real agent with the token enrols and gets the token's labels and cluster
    uri = write_node_file(stack.hosts_dir, "sim-1", cpus=4, memory_mib=4096)
    settings = load({**_plain(stack.settings), "agent_name": "sim-1", "agent_join_token": secret})
    agent, stop = Agent(settings, hypervisor_uri=uri), asyncio.Event()
    stack.agent_stops["sim-1"] = stop
    stack.tasks.append(asyncio.create_task(agent.run(stop)))
    await asyncio.wait_for(agent.ready.wait(), 20)
    host: Any = {}
    for _ in range(200):  # enrolment, then the labels and the cluster, reach the read model
        status, host, _ = await stack.request("GET", f"/api/v1/hosts/{agent.host_id}")
        if status == 200 and host.get("cluster_id"):
            break
        await asyncio.sleep(0.05)
    assert host["labels"] == {"rack": "r4"} and host["cluster_id"] == cluster["cluster_id"]

    bus = await Bus.connect(stack.settings.nats_url, name="test-enrol")
    try:
        reply = await enroll(bus, "thief", secret)  # the same token, another host
        assert not reply.ok and "already used" in reply.error
        reply = await enroll(bus, "ghost", None)
        assert not reply.ok and "join token" in reply.error
        reply = await enroll(bus, "ghost", "lqj_" + "0" * 32 + "_guess")
        assert not reply.ok and reply.error == "the join token is not valid"
        status, second, _ = await stack.request("POST", "/api/v1/join-tokens", json={})
        assert status == 201, second
        status, out, _ = await stack.request("DELETE", f"/api/v1/join-tokens/{second['token_id']}")
        assert status == 202, out
        reply = await enroll(bus, "late", second["token"])
        assert not reply.ok and "revoked" in reply.error
        assert "lqj_" not in reply.error
        # the enrolled host restarts without presenting anything
        known = EnrollRequest(host_id=agent.host_id, name="sim-1", uri=uri, cpus=4, memory_mib=4096)
        again = ENROLL_REPLY_DECODER.decode(await bus.request(subjects.ENROLL, encode(known)))
        assert again.ok and again.host_id == agent.host_id
    finally:
        await bus.close()

    status, listed, _ = await stack.request("GET", f"/api/v1/join-tokens?min_seq={out['seq']}")
    assert status == 200, listed
    states = {t["id"]: t for t in listed["items"]}
    assert states[created["token_id"]]["state"] == "used"
    assert states[created["token_id"]]["used_by"] == agent.host_id
    assert states[second["token_id"]]["state"] == "revoked"
    assert secret not in str(listed) and "token" not in states[created["token_id"]]
    events = await stack.get("/api/v1/events?kind=join_token&limit=50")
    types = sorted(e["type"] for e in events["items"])
    assert types == [
        "join_token.created",
        "join_token.created",
        "join_token.revoked",
        "join_token.used",
    ]
    assert secret not in str(events)
    (await stack.stop_host("sim-1"))


def test_a_token_is_spent_once_and_expires() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    issue = jd.Issue(
        token_id="t",
        label="",
        labels={},
        cluster_id=None,
        expires_at=now + timedelta(hours=1),
        now=now,
    )
    state: Any = None
    for event in jd.decide(None, issue):
        state = jd.evolve(state, _env(event, now))
    late = jd.Use(host_id="h", host_name="h", now=now + timedelta(hours=2))
    with pytest.raises(InvalidState, match="expired"):
        jd.decide(state, late)
    (used,) = jd.decide(state, jd.Use(host_id="h", host_name="h", now=now))
    state = jd.evolve(state, _env(used, now))
    with pytest.raises(InvalidState, match="already used"):
        jd.decide(state, jd.Use(host_id="h2", host_name="h2", now=now))
    assert jd.decide(state, jd.Revoke()) == []  # a spent token stays spent


def _env(event: Any, at: datetime) -> Any:
    from events.codec import Envelope

    return Envelope(
        event_id="e",
        aggregate_kind=jd.KIND,
        aggregate_id="t",
        occurred_at=at,
        actor="user:test",
        correlation_id="c",
        event=event,
    )
