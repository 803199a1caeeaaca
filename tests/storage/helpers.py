"""What the storage tests share: making a pool and waiting for pool and volume states."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.conftest import Stack

GIB = 1024**3


async def stream_seq(stack: Stack) -> int:
    return int((await stack.get("/ready"))["checks"]["stream_seq"])


async def make_pool(stack: Stack, root: str, name: str = "p1", **extra: Any) -> str:
    body = {"name": name, "type": "dir", "params": {"path": f"{root}/{name}"}, **extra}
    status, made, _ = await stack.request("POST", "/api/v1/storage-pools", json=body)
    assert status == 201, made
    return str(made["pool_id"])


async def wait_pool(stack: Stack, pool_id: str, state: str = "active", timeout: float = 20.0
                    ) -> dict[str, Any]:  # fmt: skip
    last: Any = None
    for _ in range(int(timeout / 0.1)):
        status, last, _ = await stack.request("GET", f"/api/v1/storage-pools/{pool_id}")
        if status == 200 and last["state"] == state:
            return dict(last)
        await asyncio.sleep(0.1)
    raise AssertionError(f"pool {pool_id} never {state}: {last}")


async def wait_volume(stack: Stack, volume_id: str, state: str = "ready", timeout: float = 30.0
                      ) -> dict[str, Any] | None:  # fmt: skip
    """The volume once in ``state`` (``None`` when waiting for ``gone``)."""
    last: Any = None
    for _ in range(int(timeout / 0.1)):
        status, last, _ = await stack.request("GET", f"/api/v1/volumes/{volume_id}")
        if state == "gone" and status == 404:
            return None
        if status == 200 and last["state"] == state:
            return dict(last)
        await asyncio.sleep(0.1)
    raise AssertionError(f"volume {volume_id} never {state}: {last}")


async def create_volume(stack: Stack, pool_id: str, name: str, size_gib: int, **extra: Any
                        ) -> str:  # fmt: skip
    made = await stack.command(
        "POST",
        "/api/v1/volumes",
        json={"pool_id": pool_id, "name": name, "size_gib": size_gib, **extra},
    )
    return str(made["volume_id"])
