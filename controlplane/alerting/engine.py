"""The alert engine: evaluates rules against live metrics and events, drives the lifecycle.

Evaluation is a leader-only job (``controlplane.leader``, lease ``controlplane-jobs``): one
replica evaluates, so the rules' windows, the notices and the load exist once, and another
replica takes over within the lease TTL when the leader goes. Metrics come from a core
subscription to ``lq.host.*.metrics`` (no durable state is needed because a rule's timers
are rebuilt from the next samples), events from the aggregate cache's live tail as it
applies them (``controlplane.applied``: no second follow of the stream). A verdict
becomes a command on the alert aggregate through the ordinary handler, whose
expected-version check still settles the short overlap of a hand-over (and an operator's
resolve on any replica); only the winner notifies. Notices go to the recipients and SMTP
server of the fleet settings in effect (``controlplane.fleet``) and to every notification
channel that wants the alert's severity (its secret read from the credentials bucket at
delivery). A rule with a scope evaluates only the things it covers (``Rule.scope``: the
VM, its host, the host's cluster and labels, from the aggregate cache). Flapping is damped twice:
hysteresis in the rule (``Window``) and a cool-down after a resolution during which the
same alert does not fire again. Silenced alerts are recorded but not notified.

The rules are read from a ``RuleBook`` (``controlplane.alerting.rulebook``) on every
sample and event, so an operator's change applies to the next one without a restart; when
a rule is disabled or deleted, or its scope no longer covers a thing, the engine resolves
the alerts it had open (``rule_changed``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec

from controlplane.alerting import notify
from controlplane.alerting.notify import Delivery
from controlplane.alerting.rulebook import RuleBook
from controlplane.alerting.rules import Rule, Subject, Window
from controlplane.domain import alert as ad
from controlplane.domain import alert_rule as rd
from controlplane.domain import channel as cd
from controlplane.domain.errors import DomainError
from controlplane.fleet import Fleet
from controlplane.handlers import Handler, TooMuchContention
from controlplane.repository import Repository
from events import alert as ae
from events import logctx, subjects
from events.base import Meta, new_id, utcnow
from events.bus import Bus
from events.codec import Envelope
from events.errors import LqError
from events.ha import VmHaRestarted, VmHaRestartFailed
from events.host import HostConnected, HostDisconnected
from events.metrics import METRICS_DECODER, HostSample, VmSample
from events.settings import Settings
from events.task import TaskFailed
from events.vm import VmStarted, VmStateObserved

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
        self.book = RuleBook(repo, settings.alert_rules_json)
        self._active: dict[str, Rule] = {}  # the rules in force at the last rule change
        self.evaluations = 0  # rule evaluations by this replica (only the leader's grow)
        self.windows: dict[tuple[str, str], Window] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.fired: dict[str, ae.AlertFired] = {}  # each alert's last firing, for notices

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The enabled rules now (the starting form with the operator's changes)."""
        return self.book.rules()

    async def run(self) -> None:
        self.windows.clear()  # a new term as leader starts from fresh samples
        self._active = {r.rule_id: r for r in self.rules}
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
            if rule.target == "host":
                targets: list[tuple[str, HostSample | VmSample]] = [(sample.host_id, sample.host)]
            else:
                targets = [(v.vm_id, v) for v in sample.vms]
            for scope_id, s in targets:
                vm_id = scope_id if rule.target == "vm" else None
                if rule.scope.empty or rule.scope.covers(self.subject(vm_id, sample.host_id)):
                    await self._evaluate(rule, scope_id, at, metric_value(rule, s))

    def subject(self, vm_id: str | None, host_id: str | None) -> Subject:
        """The VM, its host and the host's cluster and labels, as the cache knows them."""
        if vm_id is not None and host_id is None and (vm := self.repo.vm(vm_id)) is not None:
            host_id = vm.host_id
        host = self.repo.host(host_id) if host_id is not None else None
        if host is None:
            return Subject(vm_id=vm_id, host_id=host_id)
        return Subject(vm_id=vm_id, host_id=host_id, cluster_id=host.cluster_id,
                       labels=host.labels)  # fmt: skip

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
            await self.fire(rule, rule.target, scope_id, message, value)
        elif verdict == "clear":
            await self.resolve(aid, ACTOR, automatic=True)

    # -- events --

    async def _follow_events(self) -> None:
        while True:
            try:
                async for batch in self.repo.applied.follow(self.repo.seq + 1):
                    for stored in batch:
                        if stored.envelope.aggregate_kind == rd.KIND:
                            await self.rule_changed(stored.seq)
                        else:
                            await self._on_event(stored.envelope)
            except LqError as exc:
                log.warning("alerting lost the event stream: %s; resuming", exc)
                await asyncio.sleep(1.0)

    def _about(self, env: Envelope) -> tuple[str, str, Subject] | None:
        """The alert's scope id, the text of the notice and what it is about, for the
        events rules fire or resolve on."""
        event = env.event
        if isinstance(event, HostDisconnected | HostConnected):
            text = f"host {event.host_id}"
            if isinstance(event, HostDisconnected) and event.reason:
                text += f": {event.reason}"
            return event.host_id, text, self.subject(None, event.host_id)
        if isinstance(event, TaskFailed):
            vm_id = env.aggregate_id if env.aggregate_kind == "vm" else None
            host_id = env.aggregate_id if env.aggregate_kind == "host" else None
            text = f"task {event.task_id}: {event.error}"
            return event.task_id, text, self.subject(vm_id, host_id)
        if isinstance(event, VmHaRestarted):
            text = f"VM {event.vm_id} restarted on host {event.to_host_id}"
            text += f" (host {event.from_host_id} down)"
            return event.vm_id, text, self.subject(event.vm_id, event.to_host_id)
        if isinstance(event, VmHaRestartFailed):
            text = f"VM {event.vm_id} of host {event.from_host_id}: {event.reason}"
            return event.vm_id, text, self.subject(event.vm_id, event.from_host_id)
        if isinstance(event, VmStarted | VmStateObserved):
            text = f"VM {event.vm_id} runs on host {event.host_id}"
            return event.vm_id, text, self.subject(event.vm_id, event.host_id)
        return None

    async def _on_event(self, env: Envelope) -> None:
        event = env.event
        if isinstance(event, ae.AlertFired):  # fired by any replica: remember it for notices
            self.fired[event.alert_id] = event
        tag = env.type
        if isinstance(event, VmStateObserved):  # found running (reconciled): as if started
            tag = "vm.started" if event.state == "running" else tag
        if not any(tag in r.fire_on or tag in r.resolve_on for r in self.rules):
            return
        about = self._about(env)
        if about is None:
            return
        scope_id, text, subject = about
        for rule in self.rules:
            if rule.kind != "event" or not (rule.scope.empty or rule.scope.covers(subject)):
                continue
            if tag in rule.fire_on:
                await self.fire(rule, rule.target, scope_id, f"{rule.name} — {text}", None)
            elif tag in rule.resolve_on:
                await self.resolve(ae.alert_id(rule.rule_id, scope_id), ACTOR, automatic=True)

    # -- rule changes --

    async def rule_changed(self, seq: int) -> None:
        """A rule was changed: resolve the open alerts it no longer stands behind — all of a
        rule disabled or deleted, those of things a narrowed scope no longer covers."""
        try:
            await self.repo.wait_seq(seq, timeout=10.0)
        except TimeoutError:
            log.warning("alert rules: cache behind seq %d; the change applies later", seq)
            return
        before, self._active = self._active, {r.rule_id: r for r in self.rules}
        for rule_id, old in before.items():
            new = self._active.get(rule_id)
            if new is not None and new.scope == old.scope:
                continue
            if new is None:  # its windows start afresh should it come back
                for key in [k for k in self.windows if k[0] == rule_id]:
                    del self.windows[key]
            for alert in list(self.repo.all("alert")):
                if alert.rule_id != rule_id or alert.status == "resolved":
                    continue
                if new is None:
                    why = f"rule {rule_id} disabled or deleted"
                elif new.target == "task" or new.scope.covers(self._subject_of(new, alert)):
                    continue
                else:
                    why = f"rule {rule_id} no longer covers {alert.scope_id}"
                await self.resolve(alert.alert_id, ACTOR, automatic=True, comment=why)

    def _subject_of(self, rule: Rule, alert: ad.Alert) -> Subject:
        if rule.target == "vm":
            return self.subject(alert.scope_id, None)
        return self.subject(None, alert.scope_id)

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
        state: ad.Alert | None = self.repo.get("alert", aid)[0]
        if automatic and (state is None or state.status == "resolved"):
            return  # nothing open to clear (e.g. a host that connects without having been down)
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
        except (TooMuchContention, DomainError) as exc:  # a race lost, or nothing to do
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

    async def secret(self, channel: cd.Channel) -> str:
        """A webhook channel's signing secret ("" when none is set or it is unreadable)."""
        if channel.channel_type != "webhook" or not channel.signed:
            return ""
        try:
            raw = await self.bus.credential(f"channel.{channel.channel_id}")
        except LqError as exc:
            log.warning("channel %s: secret not readable: %s", channel.channel_id, exc)
            return ""
        return raw.decode() if raw else ""

    async def channels(self, severity: ae.Severity) -> list[tuple[cd.Channel, str]]:
        """Every enabled notification channel that wants ``severity``, with its secret."""
        wanted = [c for c in self.repo.all(cd.KIND) if c.wants(severity)]
        return [(c, await self.secret(c)) for c in wanted]

    async def test_channel(self, channel: cd.Channel) -> Delivery:
        """Send one test notice to ``channel`` now (one attempt: the caller sees the error)."""
        body = {
            "alert_id": "", "episode": 0, "status": "test", "rule_id": "test",
            "rule_name": "Test notification", "severity": "info", "scope_kind": "channel",
            "scope_id": channel.channel_id, "message": f"Test of channel {channel.name}",
            "value": None, "threshold": None, "by": ACTOR, "at": utcnow().isoformat(),
        }  # fmt: skip
        secret = await self.secret(channel)
        return await notify.to_channel(self.fleet.effective(), channel, secret, body, attempts=1)

    async def _deliver(self, fired: ae.AlertFired, status: ae.AlertStatus, by: str) -> None:
        with logctx.bind(correlation_id=fired.alert_id):
            started = time.monotonic()
            channels = await self.channels(fired.severity)
            body = payload(fired, status, by)
            for d in await notify.deliver(self.fleet.effective(), body, channels):
                note = ae.AlertNotified(
                    alert_id=fired.alert_id, episode=fired.episode, channel=d.channel,
                    target=d.target, about=status, ok=d.ok, attempts=d.attempts, error=d.error,
                    channel_id=d.channel_id,
                )  # fmt: skip
                await self._execute(fired.alert_id, lambda _s, n=note: [n])
                log.info("alert_id=%s %s notification via %s: %s after %d attempt(s), %.1fs",
                         fired.alert_id, status, d.channel, "sent" if d.ok else "FAILED",
                         d.attempts, time.monotonic() - started)  # fmt: skip
