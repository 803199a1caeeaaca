"""The ``lq`` client commands against a real in-process stack (real NATS, PostgreSQL, libvirt).

The CLI runs in a worker thread (click's ``CliRunner``) because the API it calls is
served by this test's event loop. Each test gets its own config directory.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from lq.cli import main
from lq.client import config
from tests.integration.conftest import ADMIN_PASSWORD, Stack, StackFactory


class Lq:
    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "LQ_URL": "", "LQ_TOKEN": "", **env}

    async def __call__(
        self, *args: str, ok: bool = True, env: dict[str, str] | None = None
    ) -> Result:
        runner = CliRunner()
        result = await asyncio.to_thread(
            runner.invoke, main, list(args), env={**self.env, **(env or {})}, catch_exceptions=False
        )
        if ok:
            assert result.exit_code == 0, (args, result.output)
        return result

    async def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return json.loads((await self(*args, "-o", "json", env=env)).stdout)


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    return await make_stack(hosts=[(4, 4096)])


async def signed_in(stack: Stack, tmp_path: Path) -> Lq:
    lq = Lq(tmp_path)
    out = await lq("login", "--url", stack.base, "-u", "admin", "--password", ADMIN_PASSWORD)
    assert "signed in" in out.output
    return lq


async def test_login_then_vm_lifecycle_with_wait(stack: Stack, tmp_path: Path) -> None:
    lq = await signed_in(stack, tmp_path)
    cfg_file = tmp_path / "xdg" / "limiquantix" / "config.toml"
    assert stat.S_IMODE(cfg_file.stat().st_mode) == 0o600
    assert "refresh_token" in cfg_file.read_text()

    hosts = await lq.json("host", "list")
    assert [h["name"] for h in hosts["items"]] == ["sim-1"]
    assert "sim-1" in (await lq("host", "list")).stdout
    assert (await lq.json("host", "show", "sim-1"))["state"] == "connected"

    task = await lq.json(
        "vm", "create", "web-1", "--vcpus", "1", "--memory", "128", "--start", "--wait"
    )
    assert task["state"] == "succeeded" and task["operation"] == "vm.create"
    table = (await lq("vm", "list")).stdout
    assert "web-1" in table and "running" in table and "sim-1" in table
    vm = await lq.json("vm", "show", "web-1")
    assert vm["state"] == "running"
    assert vm["id"] in (await lq("vm", "show", vm["id"])).stdout

    out = await lq("vm", "stop", "web-1", "--wait")
    assert "vm.stop succeeded" in out.stdout
    accepted = await lq.json("vm", "start", vm["id"])  # no --wait: the 202 answer
    assert set(accepted) >= {"task_id", "seq", "vm_id"}
    followed = await lq.json("task", "show", accepted["task_id"], "--wait")
    assert followed["state"] == "succeeded"

    tasks = await lq.json("task", "list", "--target", vm["id"])
    assert {t["operation"] for t in tasks["items"]} >= {"vm.create", "vm.stop", "vm.start"}
    assert "vm.create" in (await lq("task", "list")).stdout
    # pages: the table says how to get the next one; the JSON carries next_cursor
    first = await lq("task", "list", "--limit", "1", "--sort", "created_at")
    assert "vm.create" in first.stdout and first.stdout.count("vm.") == 1
    cursor = first.output.rsplit("--cursor ", 1)[1].split(")")[0]
    second = await lq.json(
        "task", "list", "--limit", "1", "--sort", "created_at", "--cursor", cursor
    )
    assert [t["operation"] for t in second["items"]] == ["vm.stop"] and second["next_cursor"]
    bad = await lq("task", "list", "--sort", "nope", ok=False)
    assert bad.exit_code == 1 and "sort must be one of" in bad.output
    assert (await lq.json("task", "show", task["id"]))["id"] == task["id"]

    refused = await lq("vm", "delete", "web-1", ok=False)  # running: the domain says no
    assert refused.exit_code == 1 and "409" in refused.output
    await lq("vm", "stop", "web-1", "--wait")
    await lq("vm", "delete", "web-1", "--wait")
    assert (await lq.json("vm", "list"))["items"] == []


async def test_failed_task_fails_the_command(stack: Stack, tmp_path: Path) -> None:
    lq = await signed_in(stack, tmp_path)
    too_big = ("--vcpus", "64", "--memory", "4096")
    result = await lq("vm", "create", "huge", *too_big, "--wait", ok=False)
    assert result.exit_code == 1
    assert "failed" in result.stdout
    missing = await lq("vm", "show", "no-such-vm", ok=False)
    assert missing.exit_code == 1 and "no VM 'no-such-vm'" in missing.output

    # the failure fires the task-failed alert: list, ack, resolve and silence it
    fired = await _until(lq, ("alert", "list", "--status", "open"), lambda p: p["items"])
    (alert,) = fired["items"]
    assert alert["rule_id"] == "task-failed" and alert["severity"] == "warning"
    assert "Task failed" in (await lq("alert", "list")).stdout
    assert (await lq.json("alert", "show", alert["id"]))["status"] == "firing"
    await lq("alert", "ack", alert["id"], "--comment", "looking")
    shown = ("alert", "show", alert["id"])
    await _until(lq, shown, lambda a: a["status"] == "acknowledged")
    await lq("alert", "resolve", alert["id"])
    await _until(lq, shown, lambda a: a["status"] == "resolved")
    assert "task-failed" in (await lq("alert", "rules")).stdout
    made = (await lq("silence", "create", "--rule", "task-failed", "--for", "600")).stdout
    silence_id = made.split()[-1]
    await _until(lq, ("silence", "list", "--active"), lambda p: p["items"])
    await lq("silence", "delete", silence_id)
    await _until(lq, ("silence", "list", "--active"), lambda p: not p["items"])
    assert silence_id in (await lq("silence", "list")).stdout


async def _until(lq: Lq, args: tuple[str, ...], done: Callable[[Any], Any]) -> Any:
    """``lq <args> -o json`` until ``done`` holds for its answer (the read side catches up
    with the command, or the alert engine with the failure)."""
    for _ in range(200):
        answer = await lq.json(*args)
        if done(answer):
            return answer
        await asyncio.sleep(0.1)
    raise AssertionError(f"lq {' '.join(args)}: never as expected: {answer}")


async def test_events_tail(stack: Stack, tmp_path: Path) -> None:
    lq = await signed_in(stack, tmp_path)
    await lq("vm", "create", "ev-1", "--memory", "64", "--wait")
    lines = (await lq("events", "-n", "3", "-o", "json")).stdout.splitlines()
    seqs = [json.loads(line)["seq"] for line in lines]
    assert len(seqs) == 3 and seqs == sorted(seqs)
    table = (await lq("events", "--type", "vm.", "-n", "50")).stdout
    assert "vm.created" in table and "host." not in table


async def test_contexts_env_overrides_and_token_refresh(stack: Stack, tmp_path: Path) -> None:
    lq = await signed_in(stack, tmp_path)
    await lq("context", "add", "nowhere", "--url", "http://127.0.0.1:9", "--token", "x")
    listed = await lq.json("context", "list")
    assert {c["name"]: c["current"] for c in listed} == {"default": True, "nowhere": False}
    await lq("context", "use", "nowhere")
    down = await lq("vm", "list", ok=False)
    assert down.exit_code == 1 and "cannot reach" in down.output
    # LQ_URL / LQ_TOKEN override the context: scripts need no config file
    ok = await lq.json("vm", "list", env={"LQ_URL": stack.base, "LQ_TOKEN": stack.token})
    assert ok["items"] == []
    bad = await lq("vm", "list", ok=False, env={"LQ_URL": stack.base, "LQ_TOKEN": "bad"})
    assert bad.exit_code == 1 and "401" in bad.output and "lq login" in bad.output
    assert "nowhere" in (await lq("context", "list")).stdout

    # an expired access token is renewed with the refresh token, and the pair saved
    await lq("context", "use", "default")
    env = {"XDG_CONFIG_HOME": lq.env["XDG_CONFIG_HOME"]}
    saved = await asyncio.to_thread(_with_env, env, config.load)
    old = saved.contexts["default"]
    saved.contexts["default"] = config.Context(
        name="default", url=old.url, token="expired", refresh_token=old.refresh_token
    )
    await asyncio.to_thread(_with_env, env, lambda: config.save(saved))
    assert (await lq.json("vm", "list"))["items"] == []
    renewed = await asyncio.to_thread(_with_env, env, config.load)
    assert renewed.contexts["default"].token not in ("expired", old.token)
    assert renewed.contexts["default"].refresh_token != old.refresh_token


def _with_env(env: dict[str, str], fn: Any) -> Any:
    import os

    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return fn()
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def test_completion_script(tmp_path: Path) -> None:
    lq = Lq(tmp_path)
    assert "_LQ_COMPLETE" in (await lq("completion", "bash")).stdout
    assert "compdef" in (await lq("completion", "zsh")).stdout
