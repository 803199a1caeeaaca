"""Networks, storage pools, clusters and security groups have names unique in their kind
(claim 4, as VMs do: ``test_unique_names.py``), fleet-wide and regardless of case.

Concurrent creations of one name, of every kind at once on one stack: exactly one of each
kind is accepted; the others are refused with ``409 name-taken`` and append nothing (one
``*.created``, one claim). A rename claims its new name, and a deletion frees the name.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.faults.test_api_schema import read_model_caught_up
from tests.integration.conftest import Stack, StackFactory

NAME_TAKEN = "urn:limiquantix:problem:name-taken"
SPELLINGS = ["twin", "TWIN", "Twin", "twin", "tWin", "twiN"]


def _bodies(kind: str, root: str) -> list[dict[str, Any]]:
    """One creation body per spelling; networks get distinct subnets (an overlap would be
    refused for its own reason) and pools distinct paths."""
    out = []
    for i, name in enumerate(SPELLINGS):
        body: dict[str, Any] = {"name": name}
        if kind == "network":
            body |= {"type": "isolated", "cidr": f"10.{60 + i}.0.0/24"}
        elif kind == "storage_pool":
            body |= {"type": "dir", "params": {"path": f"{root}/p{i}"}}
        out.append(body)
    return out


KINDS = {  # kind → (collection, created event, id field)
    "network": ("networks", "network.created", "network_id"),
    "storage_pool": ("storage-pools", "storage_pool.defined", "pool_id"),
    "cluster": ("clusters", "cluster.created", "cluster_id"),
    "security_group": ("security-groups", "security_group.created", "group_id"),
}


async def _events(stack: Stack, query: str) -> list[dict[str, Any]]:
    await read_model_caught_up(stack)
    return list((await stack.get(f"/api/v1/events?{query}&limit=500"))["items"])


async def _race(stack: Stack, kind: str, root: str) -> tuple[str, list[tuple[int, Any]]]:
    collection, _, id_field = KINDS[kind]
    answers = await asyncio.gather(
        *[stack.request("POST", f"/api/v1/{collection}", json=b) for b in _bodies(kind, root)]
    )
    won = [a[id_field] for s, a, _ in answers if s == 201]
    refused = [(s, a.get("type")) for s, a, _ in answers if s != 201]
    assert len(won) == 1, (kind, answers)
    return won[0], refused


async def _second(stack: Stack, kind: str, name: str, root: str) -> str:
    collection, _, id_field = KINDS[kind]
    body = {**_bodies(kind, root + "/second")[0], "name": name}
    if kind == "network":
        body["cidr"] = "10.90.0.0/24"
    status, answer, _ = await stack.request("POST", f"/api/v1/{collection}", json=body)
    assert status == 201, (kind, answer)
    return str(answer[id_field])


async def test_concurrent_creations_of_one_name_accept_one_of_each_kind(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[], storage_allowed_roots=root)
    races = await asyncio.gather(*[_race(stack, kind, root) for kind in KINDS])
    winners = dict(zip(KINDS, (w for w, _ in races), strict=True))
    for kind, (_, refused) in zip(KINDS, races, strict=True):
        assert refused == [(409, NAME_TAKEN)] * (len(SPELLINGS) - 1), (kind, refused)

    for kind, (collection, created, _) in KINDS.items():
        # nothing of the refused creations was appended
        made = await _events(stack, f"type={created}")
        assert [e["aggregate_id"] for e in made] == [winners[kind]], kind
        claims = await _events(stack, f"kind={kind}_name")
        assert [(e["type"], e["data"]["holder_id"]) for e in claims] == [
            ("name.claimed", winners[kind])
        ], kind

        # a rename claims its new name: not a taken one (any case), and a free one is held
        other = await _second(stack, kind, "second", root)
        url = f"/api/v1/{collection}/{other}"
        status, problem, _ = await stack.request("PATCH", url, json={"name": "TWIN"})
        assert (status, problem["type"]) == (409, NAME_TAKEN), (kind, problem)
        status, answer, _ = await stack.request("PATCH", url, json={"name": "renamed"})
        assert status in (200, 202), (kind, answer)
        body = {**_bodies(kind, root + "/third")[0], "name": "Renamed"}
        if kind == "network":
            body["cidr"] = "10.91.0.0/24"
        status, problem, _ = await stack.request("POST", f"/api/v1/{collection}", json=body)
        assert (status, problem["type"]) == (409, NAME_TAKEN), (kind, problem)

        # deleting the holder frees its name
        status, answer, _ = await stack.request("DELETE", f"/api/v1/{collection}/{other}")
        assert status in (200, 202), (kind, answer)
        status, answer, _ = await stack.request("POST", f"/api/v1/{collection}", json=body)
        assert status == 201, (kind, answer)
