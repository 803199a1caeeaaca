"""A running webhook dispatcher honours ``webhook_max_attempts`` changed as a fleet setting
(``PATCH /api/v1/settings``), without a restart."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.webhooks.conftest import (
    HookStack,
    Receivers,
    deliveries,
    eventually,
    make_role,
    subscribe,
)


async def test_the_dispatcher_follows_a_changed_attempt_limit(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack(webhook_max_attempts=5)
    status, out, _ = await stack.request(
        "PATCH", "/api/v1/settings", json={"webhook_max_attempts": 2}
    )
    assert status == 200, out
    receivers.fail_first["down"] = 1000
    sub = await subscribe(stack, "down", receivers.url("down"), kinds=["role"])
    await make_role(stack, "doomed")

    async def failed() -> list[dict[str, Any]]:
        items = await deliveries(stack, sub)
        return items if items and items[0]["status"] == "failed" else []

    (log,) = await eventually(failed)
    assert log["attempts"] == 2
    await asyncio.sleep(0.5)
    assert len(receivers.at("down")) == 2
