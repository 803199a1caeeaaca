"""Alert rules and the pure threshold-with-duration logic.

A metric rule says "this value of a host (or VM) above T for D seconds": it fires when
every sample over at least D seconds was above T, and resolves once the value stayed at or
below ``clear_below`` (a little under T: hysteresis) for ``clear_for_s`` — so a value
hovering at the threshold does not fire and resolve at every sample. An event rule fires
on an event type (``host.disconnected``, ``task.failed``, ``vm.ha_restarted``) and, where
there is one, resolves on its opposite (``host.connected``).

A rule is about one kind of thing (``target``: host, VM or task) and may be restricted to
some of them (``scope``: clusters, hosts, VMs, host labels — ``Scope.covers``); a task is
judged by the VM or host it belongs to, a VM by its host's cluster and labels.

Defaults are shipped for the obvious cases; ``settings.alert_rules_json`` (a JSON list of
rule objects) overrides any of them by ``rule_id`` or adds new ones. That is the starting
form; operators change rules at runtime on top of it (``controlplane.alerting.rulebook``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from events.alert import Severity

Verdict = Literal["fire", "clear"] | None


@dataclass(frozen=True)
class Subject:
    """What a rule is evaluated about: the VM (if any), its host and the host's cluster and
    labels (VMs carry no labels of their own: a VM has its host's)."""

    vm_id: str | None = None
    host_id: str | None = None
    cluster_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    """Which things a rule evaluates; an empty list matches any. ``labels`` must all be
    on the host (``{"rack": "a"}``)."""

    cluster_ids: tuple[str, ...] = ()
    host_ids: tuple[str, ...] = ()
    vm_ids: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.cluster_ids or self.host_ids or self.vm_ids or self.labels)

    def covers(self, s: Subject) -> bool:
        def within(ids: tuple[str, ...], ident: str | None) -> bool:
            return not ids or ident in ids

        return (
            within(self.cluster_ids, s.cluster_id)
            and within(self.host_ids, s.host_id)
            and within(self.vm_ids, s.vm_id)
            and all(s.labels.get(k) == v for k, v in self.labels.items())
        )


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    severity: Severity
    target: Literal["host", "vm", "task"]
    kind: Literal["metric", "event"] = "metric"
    metric: str = ""  # "cpu_pct" or "mem_pct" for metric rules
    threshold: float = 0.0
    for_s: float = 300.0
    clear_below: float | None = None  # default: threshold - 10 %
    clear_for_s: float = 60.0
    fire_on: tuple[str, ...] = ()  # event types, for event rules
    resolve_on: tuple[str, ...] = ()
    enabled: bool = True
    scope: Scope = field(default_factory=Scope)

    @property
    def clear_level(self) -> float:
        return self.threshold * 0.9 if self.clear_below is None else self.clear_below


DEFAULT_RULES = (
    Rule(rule_id="host-cpu-high", name="Host CPU above 90 % for 5 minutes", severity="critical",
         target="host", metric="cpu_pct", threshold=90.0, for_s=300),
    Rule(rule_id="host-memory-high", name="Host memory above 90 % for 5 minutes",
         severity="critical", target="host", metric="mem_pct", threshold=90.0, for_s=300),
    Rule(rule_id="vm-cpu-high", name="VM CPU above 95 % for 10 minutes", severity="warning",
         target="vm", metric="cpu_pct", threshold=95.0, for_s=600),
    Rule(rule_id="host-down", name="Host disconnected", severity="critical", target="host",
         kind="event", fire_on=("host.disconnected",), resolve_on=("host.connected",)),
    Rule(rule_id="task-failed", name="Task failed", severity="warning", target="task",
         kind="event", fire_on=("task.failed",)),
    Rule(rule_id="ha-restart", name="VM restarted by HA", severity="warning", target="vm",
         kind="event", fire_on=("vm.ha_restarted",), resolve_on=("vm.started",)),
    Rule(rule_id="ha-restart-failed", name="HA could not restart a VM", severity="critical",
         target="vm", kind="event", fire_on=("vm.ha_restart_failed",),
         resolve_on=("vm.ha_restarted", "vm.started")),
)  # fmt: skip


def _scope(raw: dict[str, Any]) -> Scope:
    ids = {k: tuple(str(i) for i in raw.get(k, ())) for k in ("cluster_ids", "host_ids", "vm_ids")}
    unknown = set(raw) - {*ids, "labels"}
    if unknown:
        raise ValueError(f"unknown scope field(s): {', '.join(sorted(unknown))}")
    return Scope(**ids, labels={str(k): str(v) for k, v in dict(raw.get("labels", {})).items()})


def load(overrides_json: str) -> tuple[Rule, ...]:
    """The enabled rules of ``load_all``."""
    return tuple(r for r in load_all(overrides_json) if r.enabled)


def load_all(overrides_json: str) -> tuple[Rule, ...]:
    """The default rules with ``overrides_json`` applied (by ``rule_id``), disabled ones
    included: the starting form of every rule the process knows.

    The older form ``"scope": "host"`` (before scopes existed ``scope`` named the target)
    is read as ``"target": "host"``."""
    rules = {r.rule_id: r for r in DEFAULT_RULES}
    if overrides_json.strip():
        for raw in json.loads(overrides_json):
            data: dict[str, Any] = dict(raw)
            for key in ("fire_on", "resolve_on"):
                if key in data:
                    data[key] = tuple(data[key])
            if isinstance(data.get("scope"), str):
                data["target"] = data.pop("scope")
            if "scope" in data:
                data["scope"] = _scope(dict(data["scope"]))
            base = rules.get(data["rule_id"])
            rules[data["rule_id"]] = replace(base, **data) if base else Rule(**data)
    return tuple(rules.values())


@dataclass
class Window:
    """Breach and clear timers of one metric rule for one host or VM."""

    breach_since: float | None = None
    clear_since: float | None = None
    last: float | None = field(default=None)

    def feed(self, rule: Rule, at: float, value: float | None, firing: bool) -> Verdict:
        """Account one sample; ``fire`` / ``clear`` when the alert should change."""
        if value is None:
            return None
        self.last = value
        if value > rule.threshold:
            self.clear_since = None
            self.breach_since = at if self.breach_since is None else self.breach_since
            if not firing and at - self.breach_since >= rule.for_s:
                return "fire"
            return None
        self.breach_since = None
        if firing and value <= rule.clear_level:
            self.clear_since = at if self.clear_since is None else self.clear_since
            if at - self.clear_since >= rule.clear_for_s:
                return "clear"
        else:
            self.clear_since = None
        return None
