"""``lq webhook`` against a real stack with the dispatcher: create (secret printed once),
list, test, deliveries, delete."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from lq.cli import main
from tests.webhooks.conftest import HookStack, Receivers, eventually


async def test_webhook_commands(
    hook_stack: HookStack, receivers: Receivers, tmp_path: Path
) -> None:
    stack = await hook_stack()
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "LQ_URL": stack.base, "LQ_TOKEN": stack.token}

    async def lq(*args: str) -> str:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
        )
        assert result.exit_code == 0, (args, result.output)
        return result.output

    async def lq_json(*args: str) -> Any:
        return json.loads(await lq(*args, "-o", "json"))

    created = await lq_json("webhook", "create", "cli", receivers.url("cli"), "--kind", "role")
    assert created["secret"].startswith("whsec_")
    wid = created["webhook_id"]
    assert "secret:" in await lq("webhook", "create", "other", receivers.url("other"))
    listed = await eventually(lambda: _listing(lq, wid))
    assert "cli" in listed and receivers.url("cli") in listed
    delivery = (await lq("webhook", "test", wid)).split()[-1]
    await eventually(lambda: _has(receivers, "cli"))
    log = await eventually(lambda: _delivered(lq_json, wid))
    assert log[0]["id"] == delivery and log[0]["event_type"] == "webhook.pinged"
    assert "webhook.pinged" in await lq("webhook", "deliveries", wid)
    rotated = await lq("webhook", "rotate-secret", wid)
    assert "secret: whsec_" in rotated and created["secret"] not in rotated
    await lq("webhook", "delete", wid)
    await eventually(lambda: _only_other(lq_json))


async def _only_other(lq_json: Any) -> bool:
    page = await lq_json("webhook", "list")
    return [w["name"] for w in page["items"]] == ["other"]


async def _listing(lq: Any, wid: str) -> str:
    out: str = await lq("webhook", "list")
    return out if wid in out else ""


async def _has(receivers: Receivers, path: str) -> bool:
    return bool(receivers.at(path))


async def _delivered(lq_json: Any, wid: str) -> list[dict[str, Any]]:
    page = await lq_json("webhook", "deliveries", wid, "--status", "delivered")
    return list(page["items"])
