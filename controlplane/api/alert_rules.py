"""Alert rules an operator reads and changes at runtime: ``/api/v1/alert-rules``.

The rules in force are configuration kept by every controlplane replica (the starting
form from ``alert_rules_json`` plus the ``alert_rule`` aggregates, ``RuleBook``), so they
are served from here rather than from the read model. Changes are decisions on the
``alert_rule`` aggregate (``controlplane.domain.alert_rule``): add a custom rule, change
any rule, return a shipped one to its starting form, delete a custom one. The engine
reads the book on every sample and event, so a change applies at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from typing import Annotated, Any

import msgspec
from aiohttp import web

from controlplane.alerting.rulebook import Entry, RuleBook
from controlplane.alerting.rulecheck import CHANGEABLE, scope_of
from controlplane.alerting.rules import Rule
from controlplane.api.alerts import ENGINE
from controlplane.api.common import (
    COMMANDS,
    decode_body,
    execute_resource,
    no_body,
)
from controlplane.domain import alert_rule as rd
from controlplane.handlers import Outcome
from events import alert as ae
from events import problems
from events.listing import Filter, Listing, listed, page_rows
from events.permissions import ALERT_MANAGE, ALERT_READ, requires

routes = web.RouteTableDef()
PATH = "/api/v1/alert-rules"

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
RuleId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Duration = Annotated[float, msgspec.Meta(ge=0, le=7 * 86400)]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Ids = Annotated[list[Ident], msgspec.Meta(max_length=100)]
EventType = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=63)]


class ScopeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    cluster_ids: Ids = []
    host_ids: Ids = []
    vm_ids: Ids = []
    labels: Annotated[dict[Label, Label], msgspec.Meta(max_length=32)] = {}

    def event(self) -> ae.AlertRuleScope:
        return ae.AlertRuleScope(cluster_ids=self.cluster_ids, host_ids=self.host_ids,
                                 vm_ids=self.vm_ids, labels=self.labels)  # fmt: skip


class CreateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    rule_id: RuleId | None = None
    name: Name
    severity: ae.Severity
    target: ae.RuleTarget
    kind: ae.RuleKind = "metric"
    metric: str = ""
    threshold: float = 0.0
    for_s: Duration = 300.0
    clear_below: float | None = None
    clear_for_s: Duration = 60.0
    fire_on: Annotated[list[EventType], msgspec.Meta(max_length=8)] = []
    resolve_on: Annotated[list[EventType], msgspec.Meta(max_length=8)] = []
    enabled: bool = True
    scope: ScopeBody = msgspec.field(default_factory=ScopeBody)


class UpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields left out keep their value."""

    name: Name | None = None
    enabled: bool | None = None
    severity: ae.Severity | None = None
    threshold: float | None = None
    for_s: Duration | None = None
    clear_below: float | None = None
    clear_for_s: Duration | None = None
    scope: ScopeBody | None = None


RULE_LISTING = Listing(
    keys={"name": "text", "severity": "text", "target": "text"},
    default_sort="name",
    filters={
        "severity": Filter("enum", ("critical", "warning", "info"), description="comma-separated"),
        "target": Filter("enum", ("host", "vm", "task"), description="what the rule watches"),
        "origin": Filter("enum", ("default", "custom"), description="shipped or added"),
        "enabled": Filter("bool", description="true or false"),
    },
    default_limit=500,
    tiebreak=(("rule_id", "text"),),
    common=("min_seq",),  # waits for this replica's cache, not the read model
)


def view(e: Entry) -> dict[str, Any]:
    """A rule as the API shows it: its fields, where it comes from, what was changed."""
    out = dataclasses.asdict(e.rule)
    out["scope"]["labels"] = dict(e.rule.scope.labels)
    return {"id": e.rule.rule_id, **out, "clear_level": e.rule.clear_level,
            "origin": e.origin, "overridden": list(e.overridden), "seq": e.version}  # fmt: skip


def _book(request: web.Request) -> RuleBook:
    engine = request.app.get(ENGINE)
    if engine is None:
        raise problems.unavailable("the alert engine is not running")
    return engine.book


async def _caught_up(request: web.Request) -> None:
    """Honour ``?min_seq=``: this replica's cache has applied at least that sequence."""
    raw = request.query.get("min_seq", "")
    if raw.isdigit():
        with contextlib.suppress(TimeoutError):
            await request.app[COMMANDS].repo.wait_seq(int(raw), timeout=5.0)


def _entry(request: web.Request) -> Entry:
    ident = request.match_info["id"]
    found = _book(request).entries().get(ident)
    if found is None:
        raise problems.not_found("alert rule", ident)
    return found


async def _execute(request: web.Request, ident: str, command: rd.Command) -> Outcome:
    return await execute_resource(request, rd.KIND, ident, rd.decider(command), "alert rule")


def _accepted(ident: str, seq: int) -> web.Response:
    return web.json_response({"rule_id": ident, "seq": seq}, status=202)


@routes.get(PATH)
@requires(ALERT_READ)
@listed(RULE_LISTING)
async def list_rules(request: web.Request) -> web.Response:
    asked = RULE_LISTING.parse(request.query)
    await _caught_up(request)
    rules = [view(e) for e in _book(request).entries().values()]
    for name in ("severity", "target", "origin"):
        if chosen := asked.filters[name]:
            rules = [r for r in rules if r[name] in chosen]
    if asked.filters["enabled"] is not None:
        rules = [r for r in rules if r["enabled"] == asked.filters["enabled"]]
    return web.json_response(page_rows(rules, asked))


@routes.get(PATH + "/{id}")
@requires(ALERT_READ)
async def get_rule(request: web.Request) -> web.Response:
    await _caught_up(request)
    return web.json_response(view(_entry(request)))


@routes.post(PATH)
@requires(ALERT_MANAGE)
async def create_rule(request: web.Request) -> web.Response:
    """Add a custom rule: ``201`` with the rule as listed."""
    body = await decode_body(request, CreateBody)
    rule_id = body.rule_id or f"custom-{uuid.uuid4().hex[:12]}"
    rule = Rule(
        rule_id=rule_id, name=body.name, severity=body.severity, target=body.target,
        kind=body.kind, metric=body.metric, threshold=body.threshold, for_s=body.for_s,
        clear_below=body.clear_below, clear_for_s=body.clear_for_s, fire_on=tuple(body.fire_on),
        resolve_on=tuple(body.resolve_on), enabled=body.enabled, scope=scope_of(body.scope.event()),
    )  # fmt: skip
    starting = rule_id in _book(request).starting
    out = await _execute(request, rule_id, rd.Create(rule=rule, starting=starting))
    entry = Entry(rule=rule, origin="custom", version=out.seq)
    return web.json_response(view(entry), status=201)


@routes.patch(PATH + "/{id}")
@requires(ALERT_MANAGE)
async def update_rule(request: web.Request) -> web.Response:
    """Change any rule (``202 {"rule_id", "seq"}``); a shipped one stays a default, with the
    changed fields listed in ``overridden`` until it is reset."""
    entry = _entry(request)
    body = await decode_body(request, UpdateBody)
    changes: dict[str, object] = {}
    for name in CHANGEABLE:
        value = getattr(body, name)
        if value is not None:
            changes[name] = scope_of(value.event()) if isinstance(value, ScopeBody) else value
    out = await _execute(request, entry.rule.rule_id, rd.Change(base=entry.rule, changes=changes))
    return _accepted(entry.rule.rule_id, out.seq)


@routes.post(PATH + "/{id}/actions/reset")
@requires(ALERT_MANAGE)
async def reset_rule(request: web.Request) -> web.Response:
    """Return a shipped rule to its starting form (``409`` for a custom rule)."""
    entry = _entry(request)
    await no_body(request)
    out = await _execute(request, entry.rule.rule_id, rd.Reset())
    return _accepted(entry.rule.rule_id, out.seq)


@routes.delete(PATH + "/{id}")
@requires(ALERT_MANAGE)
async def delete_rule(request: web.Request) -> web.Response:
    """Delete a custom rule (``409`` for a shipped one: disable it instead)."""
    entry = _entry(request)
    out = await _execute(request, entry.rule.rule_id, rd.Delete())
    return _accepted(entry.rule.rule_id, out.seq)
