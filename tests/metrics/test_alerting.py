"""Alerting end to end: a threshold rule fires after its duration, notifies a signed
webhook, is acknowledged by a user and resolves by itself when the condition clears."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from controlplane.alerting import notify
from controlplane.alerting.rules import DEFAULT_RULES, Rule, Window, load
from lq.embedded import free_port
from tests.integration.conftest import Stack, StackFactory

SECRET = "webhook-secret"
RULES = json.dumps(
    [{"rule_id": "host-cpu-high", "threshold": 50, "for_s": 1.0, "clear_below": 10,
      "clear_for_s": 0.5}]
)  # fmt: skip


class Receiver:
    def __init__(self) -> None:
        self.got: list[tuple[dict[str, Any], bool]] = []
        self.failures_left = 1  # the first delivery fails: the sender must retry

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = notify.verify(
            SECRET, request.headers["X-LQ-Timestamp"], body, request.headers["X-LQ-Signature"]
        )
        if self.failures_left:
            self.failures_left -= 1
            return web.Response(status=503)
        self.got.append((json.loads(body), ok))
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    r = Receiver()
    app = web.Application()
    app.router.add_post("/hook", r.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield r, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


async def _alert(stack: Stack, rule_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    items: Any = None
    while asyncio.get_running_loop().time() < deadline:
        items = (await stack.get(f"/api/v1/alerts?status={status}"))["items"]
        found = [a for a in items if a["rule_id"] == rule_id]
        if found:
            return dict(found[0])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {status} {rule_id} alert: {items}")


async def test_threshold_rule_fires_notifies_and_resolves(
    make_stack: StackFactory, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    stack = await make_stack(
        hosts=[(1, 4096)], metrics_interval_s=0.25, alert_rules_json=RULES,
        alert_flap_cooldown_s=0, alert_webhook_url=url, alert_webhook_secret=SECRET,
    )  # fmt: skip
    host_id = await stack.host_id("sim-1")
    vm = {"name": "busy-1", "vcpus": 1, "memory_mib": 256, "start": True}
    accepted = await stack.command("POST", "/api/v1/vms", json=vm)
    assert (await stack.wait_task(accepted["task_id"]))["state"] == "succeeded"

    # the guest keeps the host's only CPU busy: > 50 % for a second fires the rule
    alert = await _alert(stack, "host-cpu-high", "firing")
    assert alert["scope_kind"] == "host" and alert["scope_id"] == host_id
    assert alert["severity"] == "critical" and alert["value"] > 50 and alert["threshold"] == 50
    rules = (await stack.get("/api/v1/alert-rules"))["items"]
    assert {r["rule_id"] for r in rules} >= {"host-cpu-high", "host-down", "task-failed"}

    ack = await stack.command("POST", f"/api/v1/alerts/{alert['id']}/actions/acknowledge")
    acked = await stack.get(f"/api/v1/alerts/{alert['id']}?min_seq={ack['seq']}")
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "user:admin"
    counts = (await stack.get("/api/v1/alerts?status=open"))["open_by_severity"]
    assert counts["critical"] == 1

    stop = await stack.command("POST", f"/api/v1/vms/{accepted['vm_id']}/actions/stop")
    await stack.wait_task(stop["task_id"])
    resolved = await _alert(stack, "host-cpu-high", "resolved")
    assert resolved["automatic"] is True and resolved["resolved_by"] == "system:alerting"

    for _ in range(100):  # the webhook got both notices, signed, after one retry
        if len(hook.got) >= 2:
            break
        await asyncio.sleep(0.1)
    assert [(p["status"], p["rule_id"], ok) for p, ok in hook.got] == [
        ("firing", "host-cpu-high", True),
        ("resolved", "host-cpu-high", True),
    ]
    for _ in range(50):  # the delivery log is the alert's own history
        log = (await stack.get(f"/api/v1/alerts/{alert['id']}"))["notifications"]
        if len(log) >= 2:
            break
        await asyncio.sleep(0.1)
    assert [(n["about"], n["ok"], n["channel"]) for n in log] == [
        ("firing", True, "webhook"),
        ("resolved", True, "webhook"),
    ]
    assert log[0]["attempts"] == 2


RULE = Rule(rule_id="r", name="r", severity="warning", scope="host", metric="cpu_pct",
            threshold=90, for_s=300, clear_below=80, clear_for_s=60)  # fmt: skip


@pytest.mark.parametrize(
    ("samples", "verdicts"),
    [
        # above for less than the duration: nothing; at 300 s: fire
        ([(0, 95), (150, 99), (299, 91), (300, 92)], [None, None, None, "fire"]),
        # a dip resets the breach timer
        ([(0, 95), (200, 85), (250, 95), (500, 95), (550, 95)], [None, None, None, None, "fire"]),
        # missing values are no evidence either way
        ([(0, 95), (100, None), (300, 95)], [None, None, "fire"]),
    ],
)
def test_window_fires_after_duration(
    samples: list[tuple[float, float | None]], verdicts: list[str | None]
) -> None:
    w = Window()
    assert [w.feed(RULE, t, v, firing=False) for t, v in samples] == verdicts


def test_window_clears_with_hysteresis() -> None:
    w = Window()
    # 85 is under the threshold but above clear_below: still firing (no flapping)
    got = [w.feed(RULE, t, v, firing=True) for t, v in [(0, 85), (100, 79), (159, 70), (160, 75)]]
    assert got == [None, None, None, "clear"]


def test_rule_overrides() -> None:
    rules = {r.rule_id: r for r in load(RULES)}
    assert rules["host-cpu-high"].threshold == 50 and rules["host-cpu-high"].for_s == 1.0
    assert len(rules) == len(DEFAULT_RULES)
    assert "vm-cpu-high" not in {
        r.rule_id for r in load('[{"rule_id": "vm-cpu-high", "enabled": false}]')
    }
