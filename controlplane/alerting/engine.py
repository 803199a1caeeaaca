"""The alert engine: evaluates rules against live metrics and events, drives the lifecycle.

Evaluation is a leader-only job (``controlplane.leader``, lease ``controlplane-jobs``): one
replica evaluates, so the rules' windows, the notices and the load exist once, and another
replica takes over within the lease TTL when the leader goes. Metrics come from a core
subscription to ``lq.host.*.metrics`` (no durable state is needed because a rule's timers
are rebuilt from the next samples), events from a live tail of the event stream. A verdict
becomes a command on the alert aggregate through the ordinary handler, whose
expected-version check still settles the short overlap of a hand-over (and an operator's
resolve on any replica); only the winner notifies. Notices go to the recipients and SMTP
server of the fleet settings in effect (``controlplane.fleet``). Flapping is damped twice:
hysteresis in the rule (``Window``) and a cool-down after a resolution during which the
same alert does not fire again. Silenced alerts are recorded but not notified.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec

from controlplane.alerting import notify
from controlplane.alerting.rules import Rule, Window, load
from controlplane.domain import alert as ad
from controlplane.fleet import Fleet
from controlplane.handlers import Handler, TooMuchContention
from controlplane.repository import Repository
from events import alert as ae
from events import logctx, subjects
from events.base import Meta, new_id, utcnow
from events.bus import Bus
from events.errors import LqError
from events.host import HostConnected, HostDisconnected
from events.metrics import METRICS_DECODER, HostSample, VmSample
from events.settings import Settings
from events.task import TaskFailed

log = logging.getLogger(__name__)
ACTOR = "system:alerting"


def metric_value(rule: Rule, s: HostSample | VmSample) -> float | None:
    if rule.metric == "cpu_pct":
        return s.cpu_pct
    if rule.metric == "mem_pct":
        if isinstance(s, HostSample):
            return s.mem_used_kib / s.mem_total_kib * 100 if s.mem_total_kib else None
        used = s.mem_used_kib if s.mem_used_kib is not None else s.mem_rss_kib
        return None if used is None or not s.mem_actual_kib else used / s.mem_actual_kib * 100
    return None


def payload(fired: ae.AlertFired, status: ae.AlertStatus, by: str = ACTOR) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(fired)
    out.pop("type", None)
    out.update(status=status, by=by, at=utcnow().isoformat())
    return out


class AlertEngine:
    def __init__(self, bus: Bus, handler: Handler, repo: Repository, settings: Settings) -> None:
        self.bus = bus
        self.handler = handler
        self.repo = repo
        self.settings = settings
        self.fleet = Fleet(repo, settings)
        self.rules = load(settings.alert_rules_json)
        self.evaluations = 0  # rule evaluations by this replica (only the leader's grow)
        self.windows: dict[tuple[str, str], Window] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.fired: dict[str, ae.AlertFired] = {}  # each alert's last firing, for notices

    async def run(self) -> None:
        self.windows.clear()  # a new term as leader starts from fresh samples
        sub = await self.bus.subscribe(subjects.METRICS_ALL, self._on_metrics)
        try:
            await self._follow_events()
        finally:
            await sub.unsubscribe()
            for t in list(self._pending):
                t.cancel()

    # -- metrics --

    async def _on_metrics(self, data: bytes) -> None:
        sample = METRICS_DECODER.decode(data)
        at = sample.sampled_at.timestamp()
        for rule in self.rules:
            if rule.kind != "metric":
                continue
            if rule.scope == "host":
                targets: list[tuple[str, HostSample | VmSample]] = [(sample.host_id, sample.host)]
            else:
                targets = [(v.vm_id, v) for v in sample.vms]
            for scope_id, s in targets:
                await self._evaluate(rule, scope_id, at, metric_value(rule, s))

    async def _evaluate(self, rule: Rule, scope_id: str, at: float, value: float | None) -> None:
        self.evaluations += 1
        aid = ae.alert_id(rule.rule_id, scope_id)
        state: ad.Alert | None = self.repo.get("alert", aid)[0]
        firing = state is not None and state.status != "resolved"
        window = self.windows.setdefault((rule.rule_id, scope_id), Window())
        verdict = window.feed(rule, at, value, firing)
        if verdict == "fire":
            if state is not None and state.resolved_at is not None:
                since = at - state.resolved_at.timestamp()
                if since < self.settings.alert_flap_cooldown_s:
                    log.debug("alert %s flapping: held back %.0fs after resolving", aid, since)
                    return
            message = f"{rule.name}: {rule.metric} at {value:.1f} (threshold {rule.threshold:g})"
            await self.fire(rule, rule.scope, scope_id, message, value)
        elif verdict == "clear":
            await self.resolve(aid, ACTOR, automatic=True)

    # -- events --

    async def _follow_events(self) -> None:
        while True:
            try:
                async for batch in self.bus.store.follow(from_seq=self.repo.seq + 1):
                    for stored in batch:
                        await self._on_event(stored.envelope.event)
            except LqError as exc:
                log.warning("alerting lost the event stream: %s; resuming", exc)
                await asyncio.sleep(1.0)

    async def _on_event(self, event: Any) -> None:
        if isinstance(event, ae.AlertFired):  # fired by any replica: remember it for notices
            self.fired[event.alert_id] = event
        for rule in self.rules:
            if rule.kind != "event":
                continue
            tag = type(event).__struct_config__.tag
            if isinstance(event, HostDisconnected | HostConnected):
                scope_id, text = event.host_id, f"host {event.host_id}"
                if isinstance(event, HostDisconnected) and event.reason:
                    text += f": {event.reason}"
            elif isinstance(event, TaskFailed):
                scope_id, text = event.task_id, f"task {event.task_id}: {event.error}"
            else:
                continue
            if tag in rule.fire_on:
                await self.fire(rule, rule.scope, scope_id, f"{rule.name} — {text}", None)
            elif tag in rule.resolve_on:
                await self.resolve(ae.alert_id(rule.rule_id, scope_id), ACTOR, automatic=True)

    # -- lifecycle --

    def silenced(self, rule_id: str, scope_id: str) -> bool:
        now = utcnow()
        return any(s.matches(rule_id, scope_id, now) for s in self.repo.all("silence"))

    async def fire(
        self, rule: Rule, scope_kind: str, scope_id: str, message: str, value: float | None
    ) -> None:
        aid = ae.alert_id(rule.rule_id, scope_id)
        fired = ae.AlertFired(
            alert_id=aid, episode=0, rule_id=rule.rule_id, rule_name=rule.name,
            severity=rule.severity, scope_kind=scope_kind, scope_id=scope_id, message=message,
            value=None if value is None else round(value, 2),
            threshold=rule.threshold if rule.kind == "metric" else None,
            silenced=self.silenced(rule.rule_id, scope_id),
        )  # fmt: skip
        outcome = await self._execute(aid, lambda s: ad.fire(s, fired))
        if outcome:
            event = outcome[0]
            assert isinstance(event, ae.AlertFired)
            log.warning("alert_id=%s fired: %s", aid, message)
            self.notify(event, "firing")

    async def resolve(self, aid: str, by: str, *, automatic: bool, comment: str = "") -> None:
        events = await self._execute(
            aid, lambda s: ad.resolve(s, aid, by, automatic=automatic, comment=comment)
        )
        if events:
            fired = self._last_fired(aid)
            log.info("alert_id=%s resolved by %s", aid, by)
            if fired is not None:
                self.notify(fired, "resolved", by)

    def _last_fired(self, aid: str) -> ae.AlertFired | None:
        return self.fired.get(aid)

    async def last_fired(self, aid: str) -> ae.AlertFired | None:
        """The alert's last firing: remembered by the evaluating replica, read from the
        stream on any other (a follower does not tail the events)."""
        if (fired := self.fired.get(aid)) is not None:
            return fired
        try:
            history = await self.bus.store.load("alert", aid)
        except LqError as exc:
            log.warning("alert_id=%s: history not readable: %s", aid, exc)
            return None
        found = [se.envelope.event for se in history]
        firings = [e for e in found if isinstance(e, ae.AlertFired)]
        return firings[-1] if firings else None

    async def _execute(self, aid: str, decide: Any) -> list[Any]:
        meta = Meta(actor=ACTOR, occurred_at=utcnow(), correlation_id=new_id())
        try:
            outcome = await self.handler.execute("alert", aid, decide, meta)
        except TooMuchContention as exc:
            log.warning("alert_id=%s: %s", aid, exc)
            return []
        return [env.event for env in outcome.envelopes]

    def notify(self, fired: ae.AlertFired, status: ae.AlertStatus, by: str = ACTOR) -> None:
        self.fired[fired.alert_id] = fired
        if fired.silenced or self.silenced(fired.rule_id, fired.scope_id):
            log.info("alert_id=%s is silenced: no notification", fired.alert_id)
            return
        task = asyncio.create_task(self._deliver(fired, status, by), name="alert-notify")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, fired: ae.AlertFired, status: ae.AlertStatus, by: str) -> None:
        with logctx.bind(correlation_id=fired.alert_id):
            started = time.monotonic()
            for d in await notify.deliver(self.fleet.effective(), payload(fired, status, by)):
                note = ae.AlertNotified(
                    alert_id=fired.alert_id, episode=fired.episode, channel=d.channel,
                    target=d.target, about=status, ok=d.ok, attempts=d.attempts, error=d.error,
                )  # fmt: skip
                await self._execute(fired.alert_id, lambda _s, n=note: [n])
                log.info("alert_id=%s %s notification via %s: %s after %d attempt(s), %.1fs",
                         fired.alert_id, status, d.channel, "sent" if d.ok else "FAILED",
                         d.attempts, time.monotonic() - started)  # fmt: skip
