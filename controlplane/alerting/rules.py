"""Alert rules and the pure threshold-with-duration logic.

A metric rule says "this value of a host (or VM) above T for D seconds": it fires when
every sample over at least D seconds was above T, and resolves once the value stayed at or
below ``clear_below`` (a little under T: hysteresis) for ``clear_for_s`` — so a value
hovering at the threshold does not fire and resolve at every sample. An event rule fires
on an event type (``host.disconnected``, ``task.failed``) and, where there is one, resolves
on its opposite (``host.connected``).

Defaults are shipped for the obvious cases; ``settings.alert_rules_json`` (a JSON list of
rule objects) overrides any of them by ``rule_id`` or adds new ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from events.alert import Severity

Verdict = Literal["fire", "clear"] | None


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    severity: Severity
    scope: Literal["host", "vm", "task"]
    kind: Literal["metric", "event"] = "metric"
    metric: str = ""  # "cpu_pct" or "mem_pct" for metric rules
    threshold: float = 0.0
    for_s: float = 300.0
    clear_below: float | None = None  # default: threshold - 10 %
    clear_for_s: float = 60.0
    fire_on: tuple[str, ...] = ()  # event types, for event rules
    resolve_on: tuple[str, ...] = ()
    enabled: bool = True

    @property
    def clear_level(self) -> float:
        return self.threshold * 0.9 if self.clear_below is None else self.clear_below


DEFAULT_RULES = (
    Rule(rule_id="host-cpu-high", name="Host CPU above 90 % for 5 minutes", severity="critical",
         scope="host", metric="cpu_pct", threshold=90.0, for_s=300),
    Rule(rule_id="host-memory-high", name="Host memory above 90 % for 5 minutes",
         severity="critical", scope="host", metric="mem_pct", threshold=90.0, for_s=300),
    Rule(rule_id="vm-cpu-high", name="VM CPU above 95 % for 10 minutes", severity="warning",
         scope="vm", metric="cpu_pct", threshold=95.0, for_s=600),
    Rule(rule_id="host-down", name="Host disconnected", severity="critical", scope="host",
         kind="event", fire_on=("host.disconnected",), resolve_on=("host.connected",)),
    Rule(rule_id="task-failed", name="Task failed", severity="warning", scope="task",
         kind="event", fire_on=("task.failed",)),
)  # fmt: skip


def load(overrides_json: str) -> tuple[Rule, ...]:
    """The default rules with ``overrides_json`` applied (by ``rule_id``)."""
    rules = {r.rule_id: r for r in DEFAULT_RULES}
    if overrides_json.strip():
        for raw in json.loads(overrides_json):
            data: dict[str, Any] = dict(raw)
            for key in ("fire_on", "resolve_on"):
                if key in data:
                    data[key] = tuple(data[key])
            base = rules.get(data["rule_id"])
            rules[data["rule_id"]] = replace(base, **data) if base else Rule(**data)
    return tuple(r for r in rules.values() if r.enabled)


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
