"""The webhook routes refuse bad input with problem+json and append nothing, hide every
subscription from callers without ``webhook.manage``, and page the delivery log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Stack, StackFactory
from tests.webhooks.conftest import HookStack, Receivers, eventually, make_role, subscribe

PROBLEM = "application/problem+json"


async def _webhook_events(stack: Stack) -> int:
    return len((await stack.get("/api/v1/events?kind=webhook&limit=500"))["items"])


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"name": "x", "url": "ftp://example.org/"}, 422, "invalid-body"),
        ({"name": "x", "url": "https://u:p@example.org/"}, 422, "invalid-body"),
        ({"name": "x", "url": "not a url"}, 422, "invalid-body"),
        ({"name": "x", "url": "https://example.org/", "kinds": ["VM"]}, 422, "invalid-body"),
        ({"name": "x", "url": "https://example.org/", "typo": 1}, 422, "invalid-body"),
        ({"name": "", "url": "https://example.org/"}, 422, "invalid-body"),
        ({"url": "https://example.org/"}, 422, "invalid-body"),
        ({"name": "x", "url": "https://example.org/", "enabled": "yes"}, 422, "invalid-body"),
        ({"name": "x", "url": "https://example.org/", "types": ["a"] * 33}, 422, "invalid-body"),
    ],
)
async def test_bad_subscriptions_are_problems_and_append_nothing(
    make_stack: StackFactory, body: dict[str, Any], status: int, slug: str
) -> None:
    stack = await make_stack()
    before = await _webhook_events(stack)
    got, answer, ctype = await stack.request("POST", "/api/v1/webhooks", json=body)
    assert (got, ctype) == (status, PROBLEM), answer
    assert answer["type"] == f"urn:limiquantix:problem:{slug}"
    assert await _webhook_events(stack) == before


async def test_malformed_json_unknown_ids_and_bad_parameters(make_stack: StackFactory) -> None:
    stack = await make_stack()
    status, answer, ctype = await stack.request(
        "POST", "/api/v1/webhooks", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert (status, ctype, answer["type"]) == (
        400,
        PROBLEM,
        "urn:limiquantix:problem:malformed-request",
    )
    missing = "/api/v1/webhooks/01900000-0000-7000-8000-000000000000"
    missing_cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", missing, {}),
        ("PATCH", missing, {"json": {"enabled": False}}),
        ("DELETE", missing, {}),
        ("POST", missing + "/actions/test", {}),
        ("GET", missing + "/deliveries", {}),
    ]
    for method, path, kw in missing_cases:
        status, answer, ctype = await stack.request(method, path, **kw)
        assert (status, ctype) == (404, PROBLEM), (method, path, answer)
    sub = await subscribe(stack, "ok", "https://example.org/hook")
    wid = sub["webhook_id"]
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("PATCH", f"/api/v1/webhooks/{wid}", {"json": {"url": "gopher://x/"}}, 422),
        ("PATCH", f"/api/v1/webhooks/{wid}", {"json": {"secret": "mine"}}, 422),
        ("POST", f"/api/v1/webhooks/{wid}/actions/test", {"json": {"x": 1}}, 422),
        ("GET", f"/api/v1/webhooks/{wid}/deliveries?status=odd", {}, 400),
        ("GET", f"/api/v1/webhooks/{wid}/deliveries?cursor=abc", {}, 400),
        ("GET", f"/api/v1/webhooks/{wid}/deliveries?limit=0", {}, 400),
    ]
    for method, path, kw, want in cases:
        status, answer, ctype = await stack.request(method, path, **kw)
        assert (status, ctype) == (want, PROBLEM), (method, path, answer)
    status, _, _ = await stack.request("PATCH", f"/api/v1/webhooks/{wid}", json={"enabled": False})
    assert status == 202
    status, answer, _ = await stack.request("POST", f"/api/v1/webhooks/{wid}/actions/test")
    assert status == 409 and answer["type"] == "urn:limiquantix:problem:webhook-disabled"


async def test_only_webhook_managers_see_or_change_subscriptions(make_stack: StackFactory) -> None:
    stack = await make_stack()
    status, body, _ = await stack.request(
        "POST",
        "/api/v1/users",
        json={"username": "ops", "password": "ops-password-1", "roles": [{"role": "operator"}]},
    )
    assert status == 201, body
    token = (await stack.login("ops", "ops-password-1"))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    for method, path in [
        ("GET", "/api/v1/webhooks"),
        ("POST", "/api/v1/webhooks"),
        ("GET", "/api/v1/webhooks/x/deliveries"),
        ("DELETE", "/api/v1/webhooks/x"),
    ]:
        status, answer, _ = await stack.request(method, path, headers=auth, json={})
        assert status == 403 and answer["permission"] == "webhook.manage", (method, path)


async def test_the_delivery_log_pages_newest_first(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack()
    sub = await subscribe(stack, "pages", receivers.url("pages"), kinds=["role"])
    for i in range(5):
        await make_role(stack, f"paged-{i}")
    await eventually(lambda: _delivered(stack, sub, 5))
    base = f"/api/v1/webhooks/{sub['webhook_id']}/deliveries"
    first = await stack.get(base + "?limit=2")
    second = await stack.get(base + f"?limit=2&cursor={first['next_cursor']}")
    third = await stack.get(base + f"?limit=2&cursor={second['next_cursor']}")
    seqs = [d["seq"] for page in (first, second, third) for d in page["items"]]
    assert len(seqs) == 5 and seqs == sorted(seqs, reverse=True)
    assert third["next_cursor"] is None
    assert (await stack.get(base + "?status=failed"))["items"] == []
    listed = await stack.get("/api/v1/webhooks")
    (w,) = listed["items"]
    assert w["deliveries"]["delivered"] == 5 and w["failures"] == 0
    assert w["created_by"] == "user:admin" and w["kinds"] == ["role"] and w["enabled"] is True


async def _delivered(stack: Stack, sub: dict[str, Any], n: int) -> bool:
    page = await stack.get(
        f"/api/v1/webhooks/{sub['webhook_id']}/deliveries?status=delivered&min_seq={sub['seq']}"
    )
    return len(page["items"]) >= n
