"""Authentication and authorization end to end, on a real stack.

Every non-public route refuses strangers with 401; each built-in role and a custom role get
exactly what their permissions allow (403 otherwise, recorded as ``auth.denied``); access
tokens expire and refresh tokens rotate (a reused one ends the session); logout and
password changes revoke; API tokens are scoped and revocable; forged JWTs are refused.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from events.permissions import PUBLIC, declared
from lq.web import build_app
from tests.integration.conftest import Stack, StackFactory


@pytest.fixture
async def anon() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def call(
    session: aiohttp.ClientSession,
    stack: Stack,
    method: str,
    path: str,
    token: str | None = None,
    **kw: Any,
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, stack.base + path, headers=headers, **kw) as resp:
        text = await resp.text()
        body = await resp.json(content_type=None) if text.startswith(("{", "[")) else text
        return resp.status, body, dict(resp.headers)


async def make_user(stack: Stack, name: str, password: str, roles: list[str]) -> str:
    body = {"username": name, "password": password, "roles": [{"role": r} for r in roles]}
    status, out, _ = await stack.request("POST", "/api/v1/users", json=body)
    assert status == 201, out
    return str(out["user_id"])


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path).replace("{tail:.*}", "x")


async def test_every_route_refuses_strangers(
    make_stack: StackFactory, anon: aiohttp.ClientSession
) -> None:
    stack = await make_stack()
    checked = 0
    for route in build_app(stack.settings).router.routes():
        if route.method == "HEAD" or declared(route.handler) == PUBLIC:
            continue
        info = route.resource.get_info() if route.resource else {}
        path = _concrete(str(info.get("path") or info.get("formatter")))
        for token in (None, "not-a-token", "lqt_00000000000000000000000000000000_nope"):
            status, body, headers = await call(anon, stack, route.method, path, token)
            assert status == 401, (route.method, path, token, status, body)
            assert body["type"] == "urn:limiquantix:problem:unauthorized"
            assert headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 20
    # an unknown API path does not reveal whether it exists
    status, _, _ = await call(anon, stack, "GET", "/api/v1/no-such-thing")
    assert status == 401
    for public in ("/health", "/live"):
        assert (await call(anon, stack, "GET", public))[0] == 200


MATRIX: list[tuple[str, str, Any, dict[str, int]]] = [
    # method, path, body, expected status per role (anything not 403 means "allowed")
    ("GET", "/api/v1/vms", None, {"admin": 200, "operator": 200, "viewer": 200, "starter": 200}),
    ("GET", "/api/v1/hosts", None, {"admin": 200, "operator": 200, "viewer": 200, "starter": 403}),
    ("GET", "/api/v1/events", None, {"admin": 200, "operator": 200, "viewer": 200, "starter": 403}),
    (
        "POST",
        "/api/v1/vms",
        {"name": "m-{role}", "vcpus": 1, "memory_mib": 64},  # VM names are unique
        {"admin": 202, "operator": 202, "viewer": 403, "starter": 403},
    ),
    (
        "POST",
        "/api/v1/vms/00000000-0000-0000-0000-000000000000/actions/start",
        None,
        {"admin": 404, "operator": 404, "viewer": 403, "starter": 404},
    ),
    (
        "DELETE",
        "/api/v1/vms/00000000-0000-0000-0000-000000000000",
        None,
        {"admin": 404, "operator": 404, "viewer": 403, "starter": 403},
    ),
    ("GET", "/api/v1/users", None, {"admin": 200, "operator": 403, "viewer": 403, "starter": 403}),
    ("GET", "/api/v1/roles", None, {"admin": 200, "operator": 403, "viewer": 403, "starter": 403}),
    ("POST", "/api/v1/users", {}, {"admin": 422, "operator": 403, "viewer": 403, "starter": 403}),
    ("POST", "/api/v1/roles", {}, {"admin": 422, "operator": 403, "viewer": 403, "starter": 403}),
    (
        "GET",
        "/api/v1/auth/me",
        None,
        {"admin": 200, "operator": 200, "viewer": 200, "starter": 200},
    ),
    ("GET", "/api/v1/tokens", None, {"admin": 200, "operator": 200, "viewer": 200, "starter": 200}),
]


async def test_role_matrix(make_stack: StackFactory, anon: aiohttp.ClientSession) -> None:
    stack = await make_stack()
    status, out, _ = await stack.request(
        "POST",
        "/api/v1/roles",
        json={"name": "vm-starter", "permissions": ["vm.read", "vm.power"]},
    )
    assert status == 201, out
    tokens = {"admin": stack.token}
    for role, name in (("operator", "olga"), ("viewer", "victor"), ("vm-starter", "sam")):
        await make_user(stack, name, f"{name}-password", [role])
        tokens["starter" if role == "vm-starter" else role] = (
            await stack.login(name, f"{name}-password")
        )["access_token"]
    for method, path, body, expected in MATRIX:
        for role, want in expected.items():
            sent = body
            if isinstance(body, dict) and "name" in body:
                sent = {**body, "name": str(body["name"]).replace("{role}", role)}
            kw = {"json": sent} if sent is not None else {}
            status, out, _ = await call(anon, stack, method, path, tokens[role], **kw)
            assert status == want, (role, method, path, status, out)
            if want == 403:
                assert out["type"] == "urn:limiquantix:problem:forbidden" and out["permission"]
    me = (await call(anon, stack, "GET", "/api/v1/auth/me", tokens["starter"]))[1]
    assert me["permissions"] == ["vm.power", "vm.read"]
    denied = await stack.get("/api/v1/events?kind=auth&limit=500")
    assert any(
        e["type"] == "auth.denied" and e["data"]["username"] == "victor" for e in denied["items"]
    )
    # the role's permissions change at once for every holder
    status, out, _ = await stack.request(
        "PUT", "/api/v1/roles/vm-starter", json={"permissions": ["vm.read", "host.read"]}
    )
    assert status == 202, out
    assert (await call(anon, stack, "GET", "/api/v1/hosts", tokens["starter"]))[0] == 200


async def test_refresh_rotation_expiry_and_logout(
    make_stack: StackFactory, anon: aiohttp.ClientSession
) -> None:
    stack = await make_stack(sign_in=False, auth_access_ttl_s=2.0)
    pair = await stack.login("admin", stack.settings.admin_password)
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 2
    assert pair["user"]["username"] == "admin"
    assert (await call(anon, stack, "GET", "/api/v1/vms", pair["access_token"]))[0] == 200
    await asyncio.sleep(3.1)
    status, body, _ = await call(anon, stack, "GET", "/api/v1/vms", pair["access_token"])
    assert status == 401 and "expired" in body["detail"]

    status, fresh, _ = await call(
        anon, stack, "POST", "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert status == 200, fresh
    assert (await call(anon, stack, "GET", "/api/v1/vms", fresh["access_token"]))[0] == 200
    # the first refresh token again: someone copied it; the whole session ends
    status, _, _ = await call(
        anon, stack, "POST", "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert status == 401
    status, _, _ = await call(
        anon, stack, "POST", "/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
    )
    assert status == 401

    other = await stack.login("admin", stack.settings.admin_password)
    status, _, _ = await call(anon, stack, "POST", "/api/v1/auth/logout", other["access_token"])
    assert status == 204
    assert (await call(anon, stack, "GET", "/api/v1/vms", other["access_token"]))[0] == 401
    status, _, _ = await call(
        anon, stack, "POST", "/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert status == 401


async def test_password_change_revokes_sessions(
    make_stack: StackFactory, anon: aiohttp.ClientSession
) -> None:
    stack = await make_stack()
    await make_user(stack, "pat", "first-password", ["viewer"])
    old = await stack.login("pat", "first-password")
    status, body, _ = await call(
        anon,
        stack,
        "POST",
        "/api/v1/auth/password",
        old["access_token"],
        json={"current_password": "wrong-password", "new_password": "second-password"},
    )
    assert status == 403, body
    status, new, _ = await call(
        anon,
        stack,
        "POST",
        "/api/v1/auth/password",
        old["access_token"],
        json={"current_password": "first-password", "new_password": "second-password"},
    )
    assert status == 200, new
    assert (await call(anon, stack, "GET", "/api/v1/vms", old["access_token"]))[0] == 401
    assert (await call(anon, stack, "GET", "/api/v1/vms", new["access_token"]))[0] == 200
    status, _, _ = await call(
        anon,
        stack,
        "POST",
        "/api/v1/auth/login",
        json={"username": "pat", "password": "first-password"},
    )
    assert status == 401
    await stack.login("pat", "second-password")
    # an admin resets it; disabling the account refuses its sessions at once
    uid = (await call(anon, stack, "GET", "/api/v1/auth/me", new["access_token"]))[1]["id"]
    status, _, _ = await stack.request("POST", f"/api/v1/users/{uid}/actions/disable")
    assert status == 202
    assert (await call(anon, stack, "GET", "/api/v1/vms", new["access_token"]))[0] == 401


async def test_api_tokens_are_scoped_shown_once_and_revocable(
    make_stack: StackFactory, anon: aiohttp.ClientSession
) -> None:
    stack = await make_stack()
    await make_user(stack, "vera", "vera-password", ["viewer"])
    session = (await stack.login("vera", "vera-password"))["access_token"]
    status, body, _ = await call(
        anon,
        stack,
        "POST",
        "/api/v1/tokens",
        session,
        json={"name": "too-much", "scopes": ["vm.create"]},
    )
    assert status == 403, body
    status, made, _ = await call(
        anon,
        stack,
        "POST",
        "/api/v1/tokens",
        session,
        json={"name": "ci", "scopes": ["vm.read"], "expires_in_days": 7},
    )
    assert status == 201, made
    token = made["token"]
    assert token.startswith("lqt_")
    assert (await call(anon, stack, "GET", "/api/v1/vms", token))[0] == 200
    assert (await call(anon, stack, "GET", "/api/v1/hosts", token))[0] == 403  # outside scope
    # an API token cannot mint tokens
    status, _, _ = await call(
        anon, stack, "POST", "/api/v1/tokens", token, json={"name": "x", "scopes": ["vm.read"]}
    )
    assert status == 403
    # wrong secret for a real id
    forged = token[: token.rindex("_") + 1] + "A" * 43
    assert (await call(anon, stack, "GET", "/api/v1/vms", forged))[0] == 401
    listed = (await call(anon, stack, "GET", f"/api/v1/tokens?min_seq={made['seq']}", session))[1]
    assert [t["name"] for t in listed["items"]] == ["ci"]
    assert token not in str(listed) and "digest" not in str(listed)
    status, _, _ = await call(anon, stack, "DELETE", f"/api/v1/tokens/{made['token_id']}", session)
    assert status == 202
    assert (await call(anon, stack, "GET", "/api/v1/vms", token))[0] == 401


async def test_websocket_needs_a_token(
    make_stack: StackFactory, anon: aiohttp.ClientSession
) -> None:
    stack = await make_stack()
    url = stack.base.replace("http", "ws") + "/api/v1/changes"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await anon.ws_connect(url)
    assert refused.value.status == 401
    async with anon.ws_connect(f"{url}?access_token={stack.token}") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
    async with anon.ws_connect(url, protocols=("lq.v1", f"bearer.{stack.token}")) as ws:
        assert ws.protocol == "lq.v1"
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
