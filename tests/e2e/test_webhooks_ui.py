"""Settings → Webhooks in a real browser against ``lq up``: subscribe an in-process
receiver (the secret is shown once), see a delivery land in the log, disable, delete.

This also runs the dispatcher the way production does: inside ``lq projector``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    got: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append(dict(self.headers))
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


def test_subscribe_see_deliveries_disable_delete(
    page: Any, stack: Stack, shots: Path, receiver: tuple[str, list[dict[str, str]]]
) -> None:
    url, got = receiver
    name = f"hook-{uuid.uuid4().hex[:6]}"
    page.goto("/settings")
    page.get_by_role("link", name="Webhooks").click()
    form = page.get_by_role("form", name="New webhook")
    form.get_by_label("Webhook name").fill(name)
    form.get_by_label("Webhook URL").fill(url)
    form.get_by_label("Webhook kinds").fill("role")
    form.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_test_id("webhook-secret")).to_contain_text("whsec_")
    row = page.locator(f'tr[data-webhook="{name}"]')
    expect(row).to_contain_text(url)

    role = f"r{uuid.uuid4().hex[:6]}"
    stack.api("POST", "/roles", {"name": role, "permissions": ["vm.read"]})
    row.get_by_role("button", name="Deliveries").click()
    log = page.get_by_role("table", name="Deliveries")
    expect(log).to_contain_text("role.created", timeout=20_000)
    expect(log).to_contain_text("delivered", timeout=20_000)
    assert any(h.get("X-LimiQuantix-Event") == "role.created" for h in got)
    page.screenshot(path=str(shots / "settings-webhooks.png"), full_page=True)

    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("disabled")
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
