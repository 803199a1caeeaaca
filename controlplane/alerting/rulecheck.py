"""What makes an alert rule valid, and rules to and from their events.

Every way a rule reaches the engine — the API, a decision on the ``alert_rule`` aggregate,
a change replayed from the stream — goes through ``check``: known metrics with a threshold
in their range, durations that are not negative, event rules on events the engine
understands and about the kind of thing those events concern, a bounded scope. ``apply``
is how a change (``alert_rule.changed``) lands on a rule, field by field.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from controlplane.alerting.rules import Rule, Scope
from events import alert as ae

# metric → (lowest, highest) threshold; all are percentages today
METRICS: dict[str, tuple[float, float]] = {"cpu_pct": (0.0, 100.0), "mem_pct": (0.0, 100.0)}
# event type → the kind of thing its alert is about (``Rule.target``)
EVENTS: dict[str, str] = {
    "host.disconnected": "host",
    "host.connected": "host",
    "task.failed": "task",
    "vm.ha_restarted": "vm",
    "vm.ha_restart_failed": "vm",
    "vm.started": "vm",
}
MAX_DURATION_S = 7 * 86400.0
MAX_SCOPE_IDS = 100
MAX_LABELS = 32
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
CHANGEABLE = ("name", "enabled", "severity", "threshold", "for_s", "clear_below",
              "clear_for_s", "scope")  # fmt: skip


def check(rule: Rule) -> Rule:
    """``rule`` if it can be evaluated; ``ValueError`` saying what is wrong otherwise."""
    if not RULE_ID.match(rule.rule_id):
        raise ValueError("rule_id: 1-63 lower-case letters, digits and '-', not starting with '-'")
    if not rule.name.strip() or len(rule.name) > 128:
        raise ValueError("name: 1-128 characters")
    for name in ("for_s", "clear_for_s"):
        if not 0 <= getattr(rule, name) <= MAX_DURATION_S:
            raise ValueError(f"{name}: between 0 and {MAX_DURATION_S:g} seconds")
    if rule.kind == "metric":
        _check_metric(rule)
    else:
        _check_event(rule)
    s = rule.scope
    if max(len(s.cluster_ids), len(s.host_ids), len(s.vm_ids)) > MAX_SCOPE_IDS:
        raise ValueError(f"scope: at most {MAX_SCOPE_IDS} ids of each kind")
    if len(s.labels) > MAX_LABELS:
        raise ValueError(f"scope: at most {MAX_LABELS} labels")
    return rule


def _check_metric(rule: Rule) -> None:
    if rule.metric not in METRICS:
        raise ValueError(f"metric: unknown {rule.metric!r} (one of {', '.join(METRICS)})")
    if rule.target == "task":
        raise ValueError("target: a metric rule is about a host or a VM")
    if rule.fire_on or rule.resolve_on:
        raise ValueError("a metric rule has no fire_on or resolve_on")
    low, high = METRICS[rule.metric]
    if not low <= rule.threshold <= high:
        raise ValueError(f"threshold: {rule.metric} is between {low:g} and {high:g}")
    if rule.clear_below is not None and not low <= rule.clear_below <= rule.threshold:
        raise ValueError(f"clear_below: between {low:g} and the threshold ({rule.threshold:g})")


def _check_event(rule: Rule) -> None:
    if rule.metric or rule.threshold or rule.clear_below is not None:
        raise ValueError("an event rule has no metric, threshold or clear_below")
    if not rule.fire_on:
        raise ValueError("fire_on: an event rule fires on at least one event type")
    for tag in (*rule.fire_on, *rule.resolve_on):
        if tag not in EVENTS:
            raise ValueError(f"unknown event type {tag!r} (one of {', '.join(EVENTS)})")
        if EVENTS[tag] != rule.target:
            raise ValueError(f"{tag} is about a {EVENTS[tag]}, the rule about a {rule.target}")
    if set(rule.fire_on) & set(rule.resolve_on):
        raise ValueError("an event type cannot both fire and resolve the rule")


def scope_of(s: ae.AlertRuleScope) -> Scope:
    return Scope(cluster_ids=tuple(s.cluster_ids), host_ids=tuple(s.host_ids),
                 vm_ids=tuple(s.vm_ids), labels=dict(s.labels))  # fmt: skip


def scope_event(s: Scope) -> ae.AlertRuleScope:
    return ae.AlertRuleScope(cluster_ids=list(s.cluster_ids), host_ids=list(s.host_ids),
                             vm_ids=list(s.vm_ids), labels=dict(s.labels))  # fmt: skip


def from_created(e: ae.AlertRuleCreated) -> Rule:
    return Rule(
        rule_id=e.rule_id, name=e.name, severity=e.severity, target=e.target, kind=e.kind,
        metric=e.metric, threshold=e.threshold, for_s=e.for_s, clear_below=e.clear_below,
        clear_for_s=e.clear_for_s, fire_on=tuple(e.fire_on), resolve_on=tuple(e.resolve_on),
        enabled=e.enabled, scope=scope_of(e.scope),
    )  # fmt: skip


def created(rule: Rule) -> ae.AlertRuleCreated:
    return ae.AlertRuleCreated(
        rule_id=rule.rule_id, name=rule.name, severity=rule.severity, target=rule.target,
        kind=rule.kind, metric=rule.metric, threshold=rule.threshold, for_s=rule.for_s,
        clear_below=rule.clear_below, clear_for_s=rule.clear_for_s, fire_on=list(rule.fire_on),
        resolve_on=list(rule.resolve_on), enabled=rule.enabled, scope=scope_event(rule.scope),
    )  # fmt: skip


def changes_of(e: ae.AlertRuleChanged) -> dict[str, Any]:
    """The fields a change sets (its ``None`` fields keep the rule's values)."""
    return {k: getattr(e, k) for k in CHANGEABLE if getattr(e, k) is not None}


def apply(rule: Rule, changes: Mapping[str, Any]) -> Rule:
    """``rule`` with ``changes`` (field → value; a scope as ``AlertRuleScope``) applied."""
    values = dict(changes)
    if isinstance(values.get("scope"), ae.AlertRuleScope):
        values["scope"] = scope_of(values["scope"])
    return dataclasses.replace(rule, **values)


def merge(old: ae.AlertRuleChanged | None, new: ae.AlertRuleChanged) -> ae.AlertRuleChanged:
    """All changes made to one rule so far, as one change."""
    if old is None:
        return new
    return msgspec.structs.replace(old, **changes_of(new))
