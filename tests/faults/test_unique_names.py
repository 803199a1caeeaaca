"""VM names are unique among live VMs, fleet-wide, regardless of case (claim 4).

Concurrent creations of one name: exactly one is accepted; the others are refused with
``409 name-taken`` and append nothing (no task, no VM, no claim). Copies need free names
too, and a name is free again once its VM is deleted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from controlplane.domain import name_claim as nd
from events.name_claim import NameClaimed
from events.vm_name import VmNameClaimed
from tests.faults.test_api_schema import read_model_caught_up
from tests.integration.conftest import Stack, StackFactory

NAME_TAKEN = "urn:limiquantix:problem:name-taken"


async def _events(stack: Stack, query: str) -> list[dict[str, Any]]:
    await read_model_caught_up(stack)
    return list((await stack.get(f"/api/v1/events?{query}&limit=500"))["items"])


async def test_concurrent_creations_of_one_name_accept_exactly_one(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    body = {"vcpus": 1, "memory_mib": 128}
    tasks_before = len((await stack.get("/api/v1/tasks?limit=500"))["items"])
    spellings = ["dup-1", "DUP-1", "Dup-1", "dup-1"] * 3
    answers = await asyncio.gather(
        *[stack.request("POST", "/api/v1/vms", json={**body, "name": n}) for n in spellings]
    )
    won = [a for s, a, _ in answers if s == 202]
    refused = [(s, a["type"]) for s, a, _ in answers if s != 202]
    assert len(won) == 1, answers
    assert refused == [(409, NAME_TAKEN)] * (len(spellings) - 1), refused
    assert (await stack.wait_task(won[0]["task_id"]))["state"] == "succeeded"
    vm_id = won[0]["vm_id"]

    # nothing of the refused creations was appended
    created = await _events(stack, "type=vm.created")
    assert [e["aggregate_id"] for e in created] == [vm_id]
    claims = await _events(stack, "kind=vm_name")
    assert [(e["type"], e["data"]["vm_id"]) for e in claims] == [("vm_name.claimed", vm_id)]
    tasks = (await stack.get("/api/v1/tasks?limit=500"))["items"]
    assert len(tasks) == tasks_before + 1

    # a copy needs a free name as well (the source is stopped)
    status, problem, _ = await stack.request(
        "POST", f"/api/v1/vms/{vm_id}/actions/clone", json={"name": "DUP-1"}
    )
    assert (status, problem["type"]) == (409, NAME_TAKEN), problem
    clone = await stack.command(
        "POST", f"/api/v1/vms/{vm_id}/actions/clone", json={"name": "dup-2"}
    )
    assert (await stack.wait_task(clone["task_id"]))["state"] == "succeeded"

    # deleting the VM frees its name
    deleted = await stack.command("DELETE", f"/api/v1/vms/{vm_id}")
    assert (await stack.wait_task(deleted["task_id"]))["state"] == "succeeded"
    again = await stack.command("POST", "/api/v1/vms", json={**body, "name": "Dup-1"})
    assert again["vm_id"] != vm_id
    assert (await stack.wait_task(again["task_id"]))["state"] == "succeeded"
    status, problem, _ = await stack.request("POST", "/api/v1/vms", json={**body, "name": "dup-2"})
    assert (status, problem["type"]) == (409, NAME_TAKEN), problem


def test_a_claim_is_free_once_its_holder_is_deleted_renamed_or_never_came() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    claim = nd.Claim(name="web", holder_id="a", claimed_at=at)
    mine = nd.ClaimName(scope=nd.VM, name="Web", holder_id="b", now=at + timedelta(seconds=1))
    live = nd.Holder(live=True, name="web")
    with pytest.raises(nd.NameTaken):
        nd.decide(claim, mine, live)
    with pytest.raises(nd.NameTaken):  # claimed, its vm.created not seen yet
        nd.decide(claim, mine, None)
    with pytest.raises(nd.NameTaken):  # claimed by a rename not applied yet
        nd.decide(claim, mine, nd.Holder(live=True, name="old"))
    ours = nd.ClaimName(scope=nd.VM, name="web", holder_id="a", now=at)
    assert nd.decide(claim, ours, live) == []
    later = at + nd.GRACE
    for holder, now in [
        (nd.Holder(live=False, name="web"), mine.now),
        (None, later),  # its creation never got appended
        (nd.Holder(live=True, name="other"), later),  # renamed away (or its rename failed)
    ]:
        [event] = nd.decide(claim, msgspec.structs.replace(mine, now=now), holder)
        assert event == VmNameClaimed(name="Web", vm_id="b")
    # the other kinds' claims have their own event; a stale claim of ours is made afresh
    stale = msgspec.structs.replace(ours, scope=nd.NETWORK, now=later)
    assert nd.decide(claim, stale, nd.Holder(live=True, name="other")) == [
        NameClaimed(name="web", holder_id="a")
    ]
    assert nd.claim_id("Web.1") == nd.claim_id("web.1") != nd.claim_id("web-1")
