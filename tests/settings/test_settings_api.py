"""Settings through the API: fleet settings read and changed as events (all or nothing,
problems for bad values with nothing appended), honoured at once by a running consumer,
permissions, and the read-only process settings with their sources, secrets redacted."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.integration.conftest import Stack, StackFactory

PROBLEM = "urn:limiquantix:problem:"


def by_key(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in body["items"]}


async def changes(stack: Stack, at_least: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(200):
        items = (await stack.get("/api/v1/events?type=settings.changed"))["items"]
        if len(items) >= at_least:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(items)} settings.changed events")


async def login_status(stack: Stack, password: str) -> int:
    body = {"username": "admin", "password": password}
    async with (
        aiohttp.ClientSession() as anon,
        anon.post(stack.base + "/api/v1/auth/login", json=body) as resp,
    ):
        return resp.status


async def test_fleet_settings_change_as_events_and_refuse_bad_values(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    before = by_key(await stack.get("/api/v1/settings"))
    assert before["placement_strategy"]["value"] == "spread"
    assert before["placement_strategy"]["choices"] == ["spread", "pack"]
    assert before["smtp_port"] == {**before["smtp_port"], "value": 25, "changed": False}
    assert before["smtp_port"]["changed_by"] is None

    status, out, ctype = await stack.request(
        "PATCH", "/api/v1/settings", json={"placement_strategy": "pack", "smtp_port": 2525}
    )
    assert status == 200, out
    assert "json" in ctype and sorted(out["changed_keys"]) == ["placement_strategy", "smtp_port"]
    after = by_key(out)
    assert after["placement_strategy"]["value"] == "pack"
    assert after["placement_strategy"]["default"] == "spread"
    assert after["smtp_port"]["changed"] and after["smtp_port"]["changed_by"] == "user:admin"
    assert by_key(await stack.get("/api/v1/settings"))["smtp_port"]["value"] == 2525

    events = await changes(stack, 2)
    assert {(e["data"]["key"], e["data"]["old"], e["data"]["new"]) for e in events} == {
        ("placement_strategy", "spread", "pack"),
        ("smtp_port", 25, 2525),
    }
    assert {e["actor"] for e in events} == {"user:admin"}
    seq = (await stack.get("/api/v1/settings"))["seq"]

    bad: list[tuple[Any, str]] = [
        ({"placement_strategy": "spread", "smtp_port": 0}, "invalid-setting"),
        ({"no_such_setting": 1}, "unknown-setting"),
        ({"smtp_port": "25"}, "invalid-setting"),
        ({"alert_email_to": "nobody"}, "invalid-setting"),
        ({"default_pool_id": "no-such-pool"}, "invalid-setting"),
        ({}, "invalid-setting"),
        ([1, 2], "invalid-body"),
    ]
    for body, slug in bad:
        status, out, ctype = await stack.request("PATCH", "/api/v1/settings", json=body)
        assert status == 422, (body, status, out)
        assert ctype.startswith("application/problem+json") and out["type"] == PROBLEM + slug
    status, out, _ = await stack.request("PATCH", "/api/v1/settings", data=b"{not json")
    assert status == 400 and out["type"] == PROBLEM + "malformed-request"
    # nothing was appended: same version, same two events, placement untouched
    now = await stack.get("/api/v1/settings")
    assert now["seq"] == seq and by_key(now)["placement_strategy"]["value"] == "pack"
    assert len(await changes(stack, 2)) == 2
    # the same value again appends nothing either
    status, out, _ = await stack.request("PATCH", "/api/v1/settings", json={"smtp_port": 2525})
    assert status == 200 and out["changed_keys"] == [] and out["seq"] == seq


async def test_a_running_controlplane_honours_a_changed_lockout_threshold(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    for _ in range(2):  # the process default (5) does not lock after two failures
        assert await login_status(stack, "wrong-password") == 401
    status, out, _ = await stack.request(
        "PATCH", "/api/v1/settings", json={"auth_user_max_failures": 1}
    )
    assert status == 200, out
    assert await login_status(stack, "wrong-password") == 401  # the failure that locks
    assert await login_status(stack, stack.settings.admin_password) == 429


async def test_permissions_and_process_settings(make_stack: StackFactory) -> None:
    stack = await make_stack()
    body = {"username": "vera", "password": "viewer-password", "roles": [{"role": "viewer"}]}
    status, out, _ = await stack.request("POST", "/api/v1/users", json=body)
    assert status == 201, out
    token = (await stack.login("vera", "viewer-password"))["access_token"]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as viewer:
        async with viewer.get(stack.base + "/api/v1/settings") as resp:
            assert resp.status == 200
        async with viewer.patch(stack.base + "/api/v1/settings", json={"smtp_port": 26}) as resp:
            assert resp.status == 403
            assert (await resp.json(content_type=None))["type"] == PROBLEM + "forbidden"
    assert by_key(await stack.get("/api/v1/settings"))["smtp_port"]["changed"] is False

    rows = {r["name"]: r for r in (await stack.get("/api/v1/settings/process"))["items"]}
    assert rows["http_port"]["value"] == stack.settings.http_port
    assert rows["http_port"]["source"] == "command line"
    assert rows["admin_password"]["secret"] and rows["admin_password"]["value"] == "••••••"
    assert rows["dedup_window_s"]["source"] == "default"
    assert stack.settings.admin_password not in str(rows)
