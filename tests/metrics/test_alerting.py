"""Alerting end to end: a threshold rule fires after its duration, notifies a signed
webhook, is acknowledged by a user and resolves by itself when the condition clears; rules
changed at runtime (``/api/v1/alert-rules``) reach the running engine, bad ones are
refused without a trace."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controlplane.alerting.rulebook import RuleBook
from controlplane.alerting.rules import DEFAULT_RULES, Rule, Scope, Subject, Window, load
from controlplane.domain import alert_rule as rd
from controlplane.domain.errors import InvalidRequest, InvalidState
from events.base import utcnow
from events.codec import Envelope
from tests.integration.conftest import Stack, StackFactory
from tests.metrics.hooks import Receiver, serving

SECRET = "webhook-secret"
RULES = json.dumps(
    [{"rule_id": "host-cpu-high", "threshold": 50, "for_s": 1.0, "clear_below": 10,
      "clear_for_s": 0.5}]
)  # fmt: skip


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    r = Receiver(SECRET, failures=1)  # the first delivery fails: the sender must retry
    async with serving(r) as url:
        yield r, url


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

    await _runtime_rules(stack, accepted["vm_id"])
    stop = await stack.command("POST", f"/api/v1/vms/{accepted['vm_id']}/actions/stop")
    await stack.wait_task(stop["task_id"])
    resolved = await _alert(stack, "host-cpu-high", "resolved")
    assert resolved["automatic"] is True and resolved["resolved_by"] == "system:alerting"

    for _ in range(100):  # the webhook got both notices, signed, after one retry
        if len(hook.got) >= 2:
            break
        await asyncio.sleep(0.1)
    assert [(p["status"], p["rule_id"], ok) for p, ok in hook.got if p["scope_kind"] == "host"] == [
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


BAD_RULES: list[dict[str, Any]] = [
    {"metric": "disk_pct", "threshold": 5},  # unknown metric
    {"metric": "cpu_pct", "threshold": 150},  # out of range
    {"metric": "cpu_pct", "threshold": 50, "for_s": -1},  # negative duration
    {"metric": "cpu_pct", "threshold": 50, "clear_below": 60},  # clears above the threshold
    {"metric": "cpu_pct", "threshold": 50, "severity": "loud"},
    {"metric": "cpu_pct", "threshold": 50, "bogus": 1},
    {"metric": "cpu_pct", "threshold": 50, "rule_id": "Not An Id"},
    {"metric": "cpu_pct", "threshold": 50, "scope": {"hosts": ["h1"]}},
    {"kind": "event", "target": "task", "fire_on": ["host.disconnected"]},  # not a task's
    {"kind": "event", "fire_on": ["vm.exploded"]},
    {"kind": "event", "fire_on": []},
]
BAD_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("host-cpu-high", {"threshold": 101}),
    ("host-cpu-high", {"for_s": -5}),
    ("host-cpu-high", {"clear_below": 95}),
    ("host-cpu-high", {"severity": "loud"}),
    ("host-cpu-high", {"enabled": True, "bogus": 1}),
    ("task-failed", {"threshold": 5}),  # an event rule has none
]


async def _runtime_rules(stack: Stack, vm_id: str) -> None:
    """Rules changed through the API: refused when bad, live in the engine when good."""
    path = "/api/v1/alert-rules"
    for bad in BAD_RULES:
        body: dict[str, Any] = {"name": "x", "severity": "info", "target": "host", **bad}
        status, answer, ctype = await stack.request("POST", path, json=body)
        assert status == 422 and ctype == "application/problem+json", (bad, status, answer)
    for rule_id, bad in BAD_CHANGES:
        status, answer, ctype = await stack.request("PATCH", f"{path}/{rule_id}", json=bad)
        assert status == 422 and ctype == "application/problem+json", (bad, status, answer)
    status, answer, _ = await stack.request("DELETE", f"{path}/host-cpu-high")
    assert status == 409, answer  # a shipped rule is disabled, not deleted

    # a custom rule on the busy VM fires on the next samples; disabling it resolves it
    status, made, _ = await stack.request("POST", path, json={
        "rule_id": "busy-vm", "name": "Busy VM", "severity": "info", "target": "vm",
        "metric": "cpu_pct", "threshold": 20, "for_s": 0.5, "scope": {"vm_ids": [vm_id]},
    })  # fmt: skip
    assert status == 201 and made["origin"] == "custom" and made["threshold"] == 20, made
    status, _, _ = await stack.request(
        "POST",
        path,
        json={
            "rule_id": "busy-vm",
            "name": "again",
            "severity": "info",
            "target": "vm",
            "metric": "cpu_pct",
            "threshold": 5,
        },
    )
    assert status == 409
    fired = await _alert(stack, "busy-vm", "firing")
    assert fired["scope_id"] == vm_id and fired["value"] > 20 and fired["severity"] == "info"
    off = await stack.command("PATCH", f"{path}/busy-vm", json={"enabled": False})
    resolved = await _alert(stack, "busy-vm", "resolved")
    assert resolved["automatic"] is True and resolved["resolved_by"] == "system:alerting"
    status, answer, _ = await stack.request("POST", f"{path}/busy-vm/actions/reset")
    assert status == 409, answer  # a custom rule has no shipped form

    # a shipped rule stays a default, its changed fields listed, until reset
    await stack.command("PATCH", f"{path}/host-memory-high",
                        json={"threshold": 80, "severity": "warning"})  # fmt: skip
    changed = await stack.command("PATCH", f"{path}/host-memory-high", json={"threshold": 70})
    rule = await stack.get(f"{path}/host-memory-high?min_seq={changed['seq']}")
    assert (rule["origin"], rule["overridden"]) == ("default", ["severity", "threshold"])
    assert (rule["threshold"], rule["severity"], rule["for_s"]) == (70, "warning", 300)
    reset = await stack.command("POST", f"{path}/host-memory-high/actions/reset")
    listed = {r["rule_id"]: r for r in (await stack.get(f"{path}?min_seq={reset['seq']}"))["items"]}
    assert (
        listed["host-memory-high"]["overridden"] == []
        and listed["host-memory-high"]["threshold"] == 90
    )
    assert listed["busy-vm"]["enabled"] is False and listed["busy-vm"]["seq"] == off["seq"]
    gone = await stack.command("DELETE", f"{path}/busy-vm")
    status, _, _ = await stack.request("GET", f"{path}/busy-vm?min_seq={gone['seq']}")
    assert status == 404

    # the history of the rules is auditable, and holds nothing from the refused bodies
    events = (await stack.get(f"/api/v1/events?type=alert_rule.&min_seq={gone['seq']}"))["items"]
    assert sorted((e["aggregate_id"], e["type"]) for e in events) == sorted([
        ("busy-vm", "alert_rule.created"), ("busy-vm", "alert_rule.changed"),
        ("busy-vm", "alert_rule.deleted"), ("host-memory-high", "alert_rule.changed"),
        ("host-memory-high", "alert_rule.changed"), ("host-memory-high", "alert_rule.reset"),
    ])  # fmt: skip


RULE = Rule(rule_id="r", name="r", severity="warning", target="host", metric="cpu_pct",
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


@pytest.mark.parametrize(
    ("scope", "covered"),
    [
        (Scope(), True),
        (Scope(cluster_ids=("c1",)), True),
        (Scope(cluster_ids=("c2",)), False),
        (Scope(host_ids=("h1", "h2")), True),
        (Scope(vm_ids=("v2",)), False),
        (Scope(labels={"rack": "a"}), True),
        (Scope(labels={"rack": "a", "zone": "z"}), False),
        (Scope(cluster_ids=("c1",), labels={"rack": "b"}), False),
    ],
)
def test_scope_covers(scope: Scope, covered: bool) -> None:
    subject = Subject(vm_id="v1", host_id="h1", cluster_id="c1", labels={"rack": "a"})
    assert scope.covers(subject) is covered


def test_scoped_and_older_overrides() -> None:
    rules = {r.rule_id: r for r in load(json.dumps([
        {"rule_id": "host-down", "scope": {"cluster_ids": ["c1"], "labels": {"rack": "a"}}},
        {"rule_id": "old-form", "name": "n", "severity": "info", "scope": "vm",
         "kind": "event", "fire_on": ["vm.started"]},
    ]))}  # fmt: skip
    assert rules["host-down"].scope == Scope(cluster_ids=("c1",), labels={"rack": "a"})
    assert rules["host-down"].fire_on == ("host.disconnected",)  # the rest is the default's
    assert rules["old-form"].target == "vm" and rules["old-form"].scope.empty
    assert {"ha-restart", "ha-restart-failed"} <= set(rules)
    with pytest.raises(ValueError, match="unknown scope field"):
        load('[{"rule_id": "host-down", "scope": {"hosts": ["h1"]}}]')


class _Records:
    """The aggregate states a ``RuleBook`` reads, folded here by the domain's own evolve."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[object, int]] = {}

    def all(self, kind: str) -> list[object]:
        return [s for s, _ in self.states.values()]

    def get(self, kind: str, aggregate_id: str) -> tuple[object, int]:
        return self.states.get(aggregate_id, (None, 0))

    def decide(self, rule_id: str, command: rd.Command) -> None:
        state, version = self.get(rd.KIND, rule_id)
        assert state is None or isinstance(state, rd.RuleRecord)
        for event in rd.decide(state, command):
            version += 1
            env = Envelope(event_id=f"e{version}", schema_version=1, aggregate_kind=rd.KIND,
                           aggregate_id=rule_id, occurred_at=utcnow(), actor="user:t",
                           correlation_id="c", event=event)  # type: ignore[arg-type]  # fmt: skip
            state = rd.evolve(state, env)
            self.states[rule_id] = (state, version)


def test_rule_precedence_defaults_settings_then_runtime_changes() -> None:
    records = _Records()
    book = RuleBook(records, '[{"rule_id": "host-cpu-high", "threshold": 50, "for_s": 1}]')
    base = book.entries()["host-cpu-high"].rule
    assert (base.threshold, base.for_s) == (50, 1)  # alert_rules_json over the shipped 90/300
    records.decide("host-cpu-high", rd.Change(base=base, changes={"for_s": 30.0}))
    entry = book.entries()["host-cpu-high"]
    assert (entry.rule.threshold, entry.rule.for_s, entry.overridden) == (50, 30, ("for_s",))
    with pytest.raises(InvalidRequest, match="threshold"):
        rd.decide(None, rd.Change(base=entry.rule, changes={"threshold": 120.0}))
    with pytest.raises(InvalidState):
        rd.decide(None, rd.Delete())  # a default is disabled, never deleted
    records.decide("host-cpu-high", rd.Change(base=entry.rule, changes={"enabled": False}))
    assert "host-cpu-high" not in {r.rule_id for r in book.rules()}
    records.decide("host-cpu-high", rd.Reset())
    assert book.entries()["host-cpu-high"].rule == base and book.rules()[0].enabled
