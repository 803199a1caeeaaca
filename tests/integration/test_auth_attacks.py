"""Hostile input to authentication: forged JWTs, password guessing, secrets leaking.

Forged tokens are built with the stack's real signing key where that makes the attack
stronger (expired, wrong audience or issuer, refresh-as-access, unknown session), with
another key (bad signature) and with none at all (``alg: none``). Guessing locks the user
and the address with ``429`` and ``Retry-After``. Finally every log line and every event a
run produced is scanned for the secrets used in it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest

from controlplane.auth import keys
from events.base import new_id
from events.bus import Bus
from tests.integration.conftest import Stack, StackFactory


@pytest.fixture
async def anon() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def status_of(anon: aiohttp.ClientSession, stack: Stack, token: str) -> tuple[int, Any]:
    async with anon.get(
        stack.base + "/api/v1/vms", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, await resp.json(content_type=None)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_forged_jwts_are_refused(
    make_stack: StackFactory, anon: aiohttp.ClientSession
) -> None:
    stack = await make_stack()
    key = keys.load_or_create(stack.settings)
    good = jwt.decode(stack.token, options={"verify_signature": False})
    now = int(time.time())

    def signed(changes: dict[str, Any], k: bytes = key, alg: str = "HS256") -> str:
        claims = {**good, **changes}
        return jwt.encode({k_: v for k_, v in claims.items() if v is not None}, k, algorithm=alg)

    forged = {
        "bad signature": signed({}, b"x" * 64),
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(good) + ".",
        "alg none, no dot": _b64({"alg": "none"}) + "." + _b64(good),
        "HS512 with the real key": signed({}, key, "HS512"),
        "expired": signed({"iat": now - 7200, "exp": now - 3600}),
        "wrong audience": signed({"aud": "someone-else"}),
        "wrong issuer": signed({"iss": "not-limiquantix"}),
        "no expiry": signed({"exp": None}),
        "no session": signed({"sid": None}),
        "unknown session": signed({"sid": new_id()}),
        "someone else's session": signed({"sub": new_id()}),
        "refresh token as access": signed({"typ": "refresh", "gen": 0}),
        "truncated": stack.token[:-5],
        "garbage": "a.b.c",
        "empty segments": "..",
    }
    assert (await status_of(anon, stack, stack.token))[0] == 200
    for what, token in forged.items():
        status, body = await status_of(anon, stack, token)
        assert status == 401, (what, body)
    # the access token cannot be used to refresh
    async with anon.post(
        stack.base + "/api/v1/auth/refresh", json={"refresh_token": stack.token}
    ) as resp:
        assert resp.status == 401


async def test_guessing_locks_user_and_address(
    make_stack: StackFactory, anon: aiohttp.ClientSession
) -> None:
    stack = await make_stack(
        auth_user_max_failures=3, auth_address_max_failures=6, auth_lockout_s=2.0
    )
    password = stack.settings.admin_password

    async def attempt(user: str, pw: str) -> tuple[int, Any, dict[str, str]]:
        async with anon.post(
            stack.base + "/api/v1/auth/login", json={"username": user, "password": pw}
        ) as resp:
            return resp.status, await resp.json(content_type=None), dict(resp.headers)

    for _ in range(3):
        assert (await attempt("admin", "guess-guess"))[0] == 401
    status, body, headers = await attempt("admin", password)  # even the right password
    assert status == 429, body
    assert body["type"] == "urn:limiquantix:problem:too-many-attempts"
    assert 1 <= int(headers["Retry-After"]) <= 2 and body["retry_after"] >= 1
    await asyncio.sleep(2.1)
    assert (await attempt("admin", password))[0] == 200

    # spraying names from one address locks the address (its 3 earlier failures count)
    for i in range(3):
        assert (await attempt(f"nobody-{i}", "guess-guess"))[0] == 401
    assert (await attempt("admin", password))[0] == 429

    events = (await stack.get("/api/v1/events?kind=auth&limit=500"))["items"]
    types = [e["type"] for e in events]
    assert "auth.login_failed" in types and "auth.locked_out" in types
    unknown = [e for e in events if e["aggregate_id"] == "anonymous"]
    assert unknown and all(e["data"]["username"] == "" for e in unknown)


async def test_no_secret_in_logs_or_events(
    make_stack: StackFactory, anon: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = await make_stack()
    secrets_used = [stack.settings.admin_password, "carol-password-1", "carol-password-2"]
    status, _, _ = await stack.request(
        "POST",
        "/api/v1/users",
        json={"username": "carol", "password": secrets_used[1], "roles": [{"role": "viewer"}]},
    )
    assert status == 201
    pair = await stack.login("carol", secrets_used[1])
    secrets_used += [pair["access_token"], pair["refresh_token"]]
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    async with anon.post(
        stack.base + "/api/v1/auth/password",
        headers=headers,
        json={"current_password": secrets_used[1], "new_password": secrets_used[2]},
    ) as resp:
        assert resp.status == 200
        secrets_used += [(await resp.json())["access_token"]]
    async with anon.post(
        stack.base + "/api/v1/auth/login",
        json={"username": secrets_used[2], "password": secrets_used[1]},  # password as name
    ) as resp:
        assert resp.status == 401
    status, made, _ = await stack.request(
        "POST", "/api/v1/tokens", json={"name": "ci", "scopes": ["vm.read"]}
    )
    assert status == 201
    secrets_used.append(made["token"])
    await status_of(anon, stack, made["token"])
    await status_of(anon, stack, made["token"][:-3] + "xyz")

    bus = await Bus.connect(stack.settings.nats_url, name="secret-scan")
    try:
        raw = [payload async for _, _, payload in bus.store.replay_raw()]
    finally:
        await bus.close()
    events_text = b"\n".join(raw).decode()
    events_text += json.dumps(await stack.get("/api/v1/events?limit=500"))
    events_text += json.dumps(await stack.get("/api/v1/users"))
    assert "user.password_changed" in events_text and "token.created" in events_text
    logs = caplog.text
    assert "carol" in events_text
    for secret in secrets_used:
        assert secret not in events_text, "a secret reached the event log"
        assert secret not in logs, "a secret reached the logs"
    assert "$argon2" not in events_text and "$argon2" not in logs
