"""Bad input gets a clear problem+json error and appends nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import StackFactory

CASES: list[tuple[Any, int, str]] = [
    (b"{not json", 400, "malformed-request"),
    ({"name": "a", "vcpus": "two", "memory_mib": 512}, 422, "invalid-body"),
    ({"name": "a", "vcpus": 1, "memory_mib": 512, "colour": "red"}, 422, "invalid-body"),
    ({"name": "a", "vcpus": -1, "memory_mib": 512}, 422, "invalid-body"),
    ({"name": "a", "vcpus": 1, "memory_mib": -512}, 422, "invalid-body"),
    ({"name": "a", "vcpus": 1, "memory_mib": 0}, 422, "invalid-body"),
    ({"name": "x" * 10_000, "vcpus": 1, "memory_mib": 512}, 422, "invalid-body"),
    ({"name": "bad name!", "vcpus": 1, "memory_mib": 512}, 422, "invalid-body"),
    ({"name": "", "vcpus": 1, "memory_mib": 512}, 422, "invalid-body"),
    ({"vcpus": 1, "memory_mib": 512}, 422, "invalid-body"),
    ([1, 2, 3], 422, "invalid-body"),
    ({"name": "a", "vcpus": 1, "memory_mib": 512, "start": "yes"}, 422, "invalid-body"),
    ({"name": "a", "vcpus": 10**30, "memory_mib": 512}, 422, "invalid-body"),
]


@pytest.mark.parametrize(("body", "status", "slug"), CASES)
async def test_bad_create_bodies(
    make_stack: StackFactory, body: Any, status: int, slug: str
) -> None:
    stack = await make_stack()
    before = await stack.get("/ready")
    kw: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
    got, problem, ctype = await stack.request("POST", "/api/v1/vms", **kw)
    assert got == status, problem
    assert ctype.startswith("application/problem+json")
    assert problem["type"] == f"urn:limiquantix:problem:{slug}"
    assert problem["status"] == status and problem["title"] and problem.get("detail")
    after = await stack.get("/ready")
    assert after["checks"]["stream_seq"] == before["checks"]["stream_seq"]


async def test_bad_query_parameters(make_stack: StackFactory) -> None:
    stack = await make_stack()
    for path in (
        "/api/v1/vms?limit=-1",
        "/api/v1/vms?limit=abc",
        "/api/v1/vms?sort=evil",
        "/api/v1/vms?state=exploded",
        "/api/v1/vms?min_seq=x",
    ):
        status, problem, ctype = await stack.request("GET", path)
        assert status == 400, (path, problem)
        assert ctype.startswith("application/problem+json")


async def test_unknown_routes_are_problems(make_stack: StackFactory) -> None:
    stack = await make_stack()
    status, problem, ctype = await stack.request("GET", "/api/v1/nothing-here")
    assert status == 404 and ctype.startswith("application/problem+json")
    status, problem, _ = await stack.request("PUT", "/api/v1/vms")
    assert status == 405 and problem["type"] == "urn:limiquantix:problem:method-not-allowed"
