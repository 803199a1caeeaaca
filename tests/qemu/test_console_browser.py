"""The dashboard's Console tab in real headless Chromium, on a real QEMU guest.

The whole path a person uses: the built dashboard (``ui/dist``, served by the stack's HTTP
app at ``/``) signs in, opens the VM's page and its Console tab, and xterm.js talks to the
controlplane's serial console proxy over a WebSocket (token as a ``bearer.`` subprotocol)
→ NATS → the agent on ``qemu:///system`` → the guest's serial port. The guest's heartbeat
must appear on the terminal's screen, and a command typed on the keyboard must be answered
by the guest's shell.

The browser is driven through Playwright's async API, in the test's own event loop beside
the stack (the sync API cannot run inside a running loop).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, UI_DIST
from tests.integration.conftest import ADMIN_PASSWORD, Stack
from tests.qemu import guest
from tests.qemu.conftest import Janitor, QemuStackFactory
from tests.qemu.stackops import GUEST_TIMEOUT_S, create_vm

pytestmark = [pytest.mark.qemu, pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """Headless Chromium (Debian's; nothing is downloaded), or a skip (a failure in CI)
    when it or the built dashboard is missing."""
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if not (UI_DIST / "index.html").is_file():
        missing("the dashboard is not built: run `npm ci && npm run build` in ui/")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM}")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def screen(page: Any) -> str:
    """What the terminal shows: the text of xterm's rows (its DOM renderer)."""
    return str(await page.locator(".xterm-rows").inner_text())


async def until_on_screen(page: Any, needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = await screen(page)
        if needle in text:
            return text
        await page.wait_for_timeout(200)
    raise AssertionError(f"{needle!r} not on the console screen within {timeout} s:\n{text}")


async def test_serial_console_tab_in_chromium(
    qemu_stack: QemuStackFactory, janitor: Janitor, tiny_guest: guest.Guest, chromium: Any
) -> None:
    stack: Stack = await qemu_stack()
    vm_id = await create_vm(stack, janitor, tiny_guest)

    ctx = await chromium.new_context(base_url=stack.base, viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    try:
        page = await ctx.new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda e: errors.append(str(e)))

        # sign in like a person does
        await page.goto("/login")
        await page.get_by_label("User name").fill("admin")
        await page.get_by_label("Password").fill(ADMIN_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(lambda url: "/login" not in url)

        # the VM's page, its Console tab, the serial console
        await page.goto(f"/vms/{vm_id}")
        await page.get_by_role("tab", name="Console", exact=True).click()
        await page.get_by_role("tab", name="Serial").click()
        status = page.get_by_test_id("console-status")
        await status.get_by_text("connected", exact=True).wait_for()
        await page.locator(".xterm-rows").wait_for()

        # the guest's heartbeat reaches the terminal's screen
        await until_on_screen(page, guest.HEARTBEAT, GUEST_TIMEOUT_S)

        # typed on the keyboard into the terminal; the guest's shell computes the answer
        await page.locator("[data-testid=serial-console] .xterm").click()
        await page.keyboard.press("Enter")
        await page.keyboard.type("echo lq-$((6*7))")
        await page.keyboard.press("Enter")
        text = await until_on_screen(page, "lq-42", 30)
        assert "echo lq-$((6*7))" in text, text  # the tty echoed what was typed
        assert await status.inner_text() == "connected"
    finally:
        await ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
