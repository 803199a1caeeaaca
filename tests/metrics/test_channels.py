"""Notification channels end to end, on one stack with a real SMTP server and a real
webhook receiver: event rules fire on ``host.disconnected`` (its agent stops) and resolve
on reconnect, a failed task raises ``task-failed``, each notice reaches the channels that
want its severity — the webhook signed and verified, the e-mail through SMTP — and the
test action's outcome is recorded on the channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from lq.embedded import free_port
from tests.integration.conftest import Stack, StackFactory
from tests.metrics.hooks import Receiver, serving

SECRET = "channel-secret-1"
RACK_RULES = json.dumps([
    {"rule_id": f"rack-{rack}-down", "name": f"Rack {rack} host down", "severity": "critical",
     "target": "host", "kind": "event", "fire_on": ["host.disconnected"],
     "resolve_on": ["host.connected"], "scope": {"labels": {"rack": rack}}}
    for rack in ("a", "b")
])  # fmt: skip
PATH = "/api/v1/notification-channels"


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.mail: list[tuple[list[str], dict[str, str], str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        msg = message_from_bytes(raw)
        body = msg.get_payload(decode=True)
        text = body.decode() if isinstance(body, bytes) else ""
        self.mail.append((list(envelope.rcpt_tos), dict(msg.items()), text))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    r = Receiver(SECRET)
    async with serving(r) as url:
        yield r, url


async def _until(what: str, check: Any, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: {last}")


async def _alert(stack: Stack, rule_id: str, status: str) -> dict[str, Any]:
    async def find() -> Any:
        items = (await stack.get(f"/api/v1/alerts?status={status}&q={rule_id}"))["items"]
        return next((a for a in items if a["rule_id"] == rule_id), None)

    return dict(await _until(f"no {status} {rule_id} alert", find))


async def test_channels_get_event_alerts_by_severity(
    make_stack: StackFactory, smtp: tuple[Mailbox, int], receiver: tuple[Receiver, str]
) -> None:
    box, smtp_port = smtp
    hook, url = receiver
    stack = await make_stack(
        hosts=[(2, 2048)], heartbeat_timeout_s=2.0, smtp_host="127.0.0.1", smtp_port=smtp_port,
        smtp_from="lq@example.com", alert_flap_cooldown_s=0, alert_rules_json=RACK_RULES,
    )  # fmt: skip

    # bad input is refused and appends nothing
    for bad in (
        {"name": "x", "type": "email", "to": []},
        {"name": "x", "type": "email", "to": ["not-an-address"]},
        {"name": "x", "type": "webhook", "url": "http://user:pw@example.com/"},
        {"name": "x", "type": "webhook"},
        {"name": "x", "type": "sms", "url": "http://example.com/"},
        {"name": "x", "type": "webhook", "url": url, "min_severity": "loud"},
        {"name": "x", "type": "email", "to": ["a@example.com"], "secret": "s"},
        {"name": "x", "type": "webhook", "url": url, "bogus": 1},
    ):
        status, body, ctype = await stack.request("POST", PATH, json=bad)
        assert status == 422 and ctype == "application/problem+json", (bad, status, body)
    assert (await stack.get(PATH))["items"] == []

    status, web_ch, _ = await stack.request("POST", PATH, json={
        "name": "ops hook", "type": "webhook", "url": url, "secret": SECRET,
        "min_severity": "warning",
    })  # fmt: skip
    assert status == 201 and web_ch["signed"] is True and "secret" not in web_ch, web_ch
    status, mail_ch, _ = await stack.request("POST", PATH, json={
        "name": "pager mail", "type": "email", "to": ["ops@example.com"],
        "min_severity": "critical",
    })  # fmt: skip
    assert status == 201, mail_ch
    listed = await _until(
        "channels listed", lambda: stack.get(f"{PATH}?min_seq={mail_ch['seq']}"), timeout=5
    )
    assert [(c["name"], c["type"], c["signed"]) for c in listed["items"]] == [
        ("ops hook", "webhook", True),
        ("pager mail", "email", False),
    ]
    assert SECRET not in json.dumps(listed)

    # the test action sends now and records its outcome on the channel
    status, tested, _ = await stack.request("POST", f"{PATH}/{web_ch['id']}/actions/test")
    assert status == 200 and tested["ok"] is True, tested
    assert [(p["status"], ok) for p, ok in hook.got] == [("test", True)]
    shown = await stack.get(f"{PATH}/{web_ch['id']}?min_seq={tested['seq']}")
    assert shown["last_test"]["ok"] is True and shown["last_test"]["target"] == url
    status, tested, _ = await stack.request("POST", f"{PATH}/{mail_ch['id']}/actions/test")
    assert status == 200 and tested["ok"] is True, tested
    assert box.mail[0][0] == ["ops@example.com"] and "Test of channel" in box.mail[0][2]

    # a failed task: warning — the webhook gets it, the critical-only mailbox does not
    accepted = await stack.command(
        "POST", "/api/v1/vms", json={"name": "too-big", "vcpus": 1, "memory_mib": 65536}
    )
    assert (await stack.wait_task(accepted["task_id"]))["state"] == "failed"
    failed = await _alert(stack, "task-failed", "firing")
    assert failed["scope_id"] == accepted["task_id"] and failed["severity"] == "warning"

    # the host's agent stops: host-down fires (critical) and reaches both channels; of the
    # rules scoped by host label only the one for its rack fires
    host_id = await stack.host_id("sim-1")
    status, _, _ = await stack.request(
        "PATCH", f"/api/v1/hosts/{host_id}", json={"labels": {"rack": "a"}}
    )
    assert status == 200
    await stack.stop_host("sim-1")
    await asyncio.wait_for(stack.tasks[-1], 10)
    down = await _alert(stack, "host-down", "firing")
    assert down["scope_id"] == host_id and down["severity"] == "critical"
    assert (await _alert(stack, "rack-a-down", "firing"))["scope_id"] == host_id
    mails = await _until("the host-down e-mail", lambda: _mails(box, "host-down"))
    assert mails[0][0] == ["ops@example.com"] and host_id in mails[0][2]
    assert "critical" in mails[0][1]["Subject"] and mails[0][1]["From"] == "lq@example.com"

    # the agent comes back: the alert resolves by itself
    await stack.add_host("sim-1", 2, 2048)
    resolved = await _alert(stack, "host-down", "resolved")
    assert resolved["automatic"] is True and resolved["resolved_by"] == "system:alerting"

    async def notices() -> Any:
        got = [(p["rule_id"], p["status"]) for p, ok in hook.got if ok and p["status"] != "test"]
        return got if len(got) >= 5 else None

    assert sorted(await _until("webhook notices", notices)) == [
        ("host-down", "firing"), ("host-down", "resolved"), ("rack-a-down", "firing"),
        ("rack-a-down", "resolved"), ("task-failed", "firing"),
    ]  # fmt: skip
    everything = (await stack.get("/api/v1/alerts"))["items"]
    assert not [a for a in everything if a["rule_id"] == "rack-b-down"]
    assert all(ok for _, ok in hook.got)
    assert not await _mails(box, "task-failed")

    async def logged() -> Any:
        log = (await stack.get(f"/api/v1/alerts/{down['id']}"))["notifications"]
        return log if len(log) >= 4 else None

    log = await _until("the delivery log", logged)
    assert sorted((n["about"], n["channel"], n["channel_id"], n["ok"]) for n in log) == sorted([
        ("firing", "webhook", web_ch["id"], True), ("firing", "email", mail_ch["id"], True),
        ("resolved", "webhook", web_ch["id"], True), ("resolved", "email", mail_ch["id"], True),
    ])  # fmt: skip

    # deleting a channel: gone from the list, its secret forgotten
    deleted = await stack.command("DELETE", f"{PATH}/{web_ch['id']}")
    after = await stack.get(f"{PATH}?min_seq={deleted['seq']}")
    assert [c["id"] for c in after["items"]] == [mail_ch["id"]]
    status, _, _ = await stack.request("POST", f"{PATH}/{web_ch['id']}/actions/test")
    assert status == 404


async def _mails(box: Mailbox, rule_id: str) -> list[tuple[list[str], dict[str, str], str]]:
    return [m for m in box.mail if rule_id in m[2] or rule_id in m[1].get("Subject", "")]
