"""``lq pool`` and ``lq volume`` against a real stack with one simulated host."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from lq.cli import main
from tests.integration.conftest import StackFactory
from tests.storage.helpers import GIB, wait_pool, wait_volume


async def test_pool_and_volume_commands(make_stack: StackFactory, tmp_path: Path) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "LQ_URL": stack.base, "LQ_TOKEN": stack.token}

    async def lq(*args: str, code: int = 0) -> str:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
        )
        assert result.exit_code == code, (args, result.output)
        return result.output

    async def lq_json(*args: str) -> Any:
        return json.loads(await lq(*args, "-o", "json"))

    out = await lq("pool", "create", "fast", "--type", "dir", "--param", f"path={root}/fast",
                   "--capacity-gib", "8")  # fmt: skip
    pool_id = out.split()[-1]
    await lq("pool", "attach", "fast", "sim-1")
    await wait_pool(stack, pool_id)
    assert "sim-1:active" in await lq("pool", "list")
    assert "not under an allowed" in await lq(
        "pool", "create", "bad", "--type", "dir", "--param", "path=/etc/x", code=1
    )
    made = (await lq("volume", "create", "fast", "disk.qcow2", "2", "--wait")).splitlines()
    assert made[0].startswith("volume_id: ") and made[-1] == "volume.create succeeded"
    vol = made[0].split()[-1]
    await wait_volume(stack, vol)
    await lq("volume", "resize", vol, "3")
    for _ in range(100):
        (item,) = (await lq_json("volume", "list", "--pool", "fast"))["items"]
        if item["size_bytes"] == 3 * GIB and item["state"] == "ready":
            break
        await asyncio.sleep(0.1)
    assert item["size_bytes"] == 3 * GIB
    assert "volumes only grow" in await lq("volume", "resize", vol, "1", code=1)
    assert "disk.qcow2" in await lq("volume", "list")
    await lq("volume", "delete", vol)
    assert await wait_volume(stack, vol, "gone") is None
