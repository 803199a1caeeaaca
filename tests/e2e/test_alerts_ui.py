"""Alerts and notification channels in a real browser against ``lq up``: a failed task
raises an alert, found by search and status filter, silenced from its row, acknowledged,
the silence ended early; Settings → Notifications adds a signed webhook channel whose test
notice reaches an in-process receiver and verifies; the Rules tab edits, disables and
resets a shipped rule."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from controlplane.alerting import notify
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
SECRET = "e2e-channel-secret"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    got: list[tuple[bytes, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append((body, dict(self.headers)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


def _failed_task(stack: Stack) -> tuple[str, str]:
    """A VM no host can take: its create task fails, which the task-failed rule sees."""
    name = f"huge-{uuid.uuid4().hex[:6]}"
    accepted = stack.api("POST", "/vms", {"name": name, "vcpus": 1, "memory_mib": 1 << 20})
    task_id: str = accepted["task_id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = stack.api("GET", f"/alerts?status=firing&q={task_id}")["items"]
        if found:
            return task_id, accepted["vm_id"]
        time.sleep(0.2)
    raise AssertionError(f"no task-failed alert for task {task_id}")


def test_silence_acknowledge_and_end_from_the_alerts_page(
    page: Any, stack: Stack, shots: Path
) -> None:
    task_id, vm_id = _failed_task(stack)
    page.goto("/alerts")
    page.get_by_role("radio", name="Firing").click()
    page.get_by_label("Search alerts").fill(task_id)
    row = page.locator('tr[data-alert="task-failed"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text(task_id[:8])

    row.get_by_role("button", name="Silence").click()
    form = page.get_by_role("form", name="New silence")
    expect(form.get_by_label("Silence scope")).to_have_value(task_id)
    expect(form.get_by_label("Silence rule")).to_have_value("task-failed")
    form.get_by_label("Silence duration").select_option("14400")
    comment = f"known: {uuid.uuid4().hex[:6]}"
    form.get_by_label("Silence comment").fill(comment)
    form.get_by_role("button", name="Silence").click()
    silences = page.get_by_role("table", name="Silences")
    silence = silences.locator("tr", has_text=comment)
    expect(silence).to_have_count(1)
    expect(silence).to_contain_text("Task failed")

    row.get_by_role("button", name="Acknowledge").click()
    page.get_by_role("radio", name="Acknowledged").click()
    expect(row).to_contain_text("acknowledged")
    expect(row).to_contain_text("by user:admin")
    page.screenshot(path=str(shots / "alerts-silence.png"), full_page=True)

    silence.get_by_role("button", name="End").click()
    expect(silence).to_have_count(0)
    ended = [s for s in stack.api("GET", "/silences")["items"] if s["comment"] == comment]
    assert len(ended) == 1 and ended[0]["deleted"] is True and ended[0]["scope_id"] == task_id
    assert ended[0]["rule_id"] == "task-failed" and ended[0]["active"] is False
    stack.api("DELETE", f"/vms/{vm_id}")  # the session's other tests see no stray VM


def test_add_and_test_a_webhook_channel(
    page: Any,
    stack: Stack,
    shots: Path,
    receiver: tuple[str, list[tuple[bytes, dict[str, str]]]],
) -> None:
    url, got = receiver
    name = f"ops-{uuid.uuid4().hex[:6]}"
    page.goto("/settings?tab=notifications")
    form = page.get_by_role("form", name="New channel")
    form.get_by_label("Channel name").fill(name)
    form.get_by_label("Channel URL").fill(url)
    form.get_by_label("Channel secret").fill(SECRET)
    form.get_by_label("Channel minimum severity").select_option("critical")
    form.get_by_role("button", name="Add channel").click()
    row = page.locator(f'tr[data-channel="{name}"]')
    expect(row).to_contain_text("webhook, signed")
    expect(row).to_contain_text(url)

    row.get_by_role("button", name="Test").click()
    expect(row.get_by_test_id("channel-test")).to_contain_text("sent", timeout=20_000)
    assert len(got) == 1
    body, headers = got[0]
    assert notify.verify(SECRET, headers["X-LQ-Timestamp"], body, headers["X-LQ-Signature"])
    page.screenshot(path=str(shots / "settings-notification-channels.png"), full_page=True)

    listed = [c for c in stack.api("GET", "/notification-channels")["items"] if c["name"] == name]
    assert listed[0]["min_severity"] == "critical" and listed[0]["signed"] is True
    assert SECRET not in str(listed)
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)


def test_edit_disable_and_reset_a_rule(page: Any, stack: Stack, shots: Path) -> None:
    page.goto("/alerts?tab=rules")
    row = page.locator('tr[data-rule="vm-cpu-high"]')
    expect(row).to_contain_text("cpu_pct > 95 for 600s")
    row.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit rule")
    form.get_by_label("Rule threshold").fill("80")
    form.get_by_label("Rule duration").fill("120")
    form.get_by_label("Rule severity").select_option("critical")
    page.get_by_role("button", name="Save rule").click()
    expect(row).to_contain_text("cpu_pct > 80 for 120s")
    expect(row).to_contain_text("default, changed: severity, threshold, for_s")
    row.get_by_label("Enable vm-cpu-high").click()  # checked once the change is in
    expect(row.get_by_label("Enable vm-cpu-high")).not_to_be_checked()
    rule = stack.api("GET", "/alert-rules/vm-cpu-high")
    assert (rule["threshold"], rule["for_s"], rule["severity"], rule["enabled"]) == (
        80,
        120,
        "critical",
        False,
    )
    page.screenshot(path=str(shots / "alerts-rules.png"), full_page=True)

    row.get_by_role("button", name="Reset").click()  # back to the shipped form
    expect(row).to_contain_text("cpu_pct > 95 for 600s")
    expect(row.get_by_label("Enable vm-cpu-high")).to_be_checked()
    want = ["alert_rule.changed", "alert_rule.changed", "alert_rule.reset"]
    deadline = time.monotonic() + 5
    while True:  # the history is auditable (the read model follows within moments)
        history = stack.api("GET", "/events?type=alert_rule.&aggregate_id=vm-cpu-high")["items"]
        if sorted(e["type"] for e in history) == want or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted(e["type"] for e in history) == want, history
    assert {e["actor"] for e in history} == {"user:admin"}
