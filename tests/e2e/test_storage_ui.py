"""Storage pools and volumes in a real browser against ``lq up`` (simulated hosts).

Create a dir pool attached to a host from the dialog, see its card turn active with its
capacity, then on the Volumes page create, resize, clone, import from a URL, upload a file
and delete volumes, and see the pool's allocation follow. The simulated hosts keep pools in memory,
so the pool path under the default allowed root is never touched on this machine.
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

ROOT = "/var/lib/limiquantix/pools"  # storage_allowed_roots' default
IMAGE = b"QFI\xfb" + b"\0\0\0\3" + b"\0" * 16 + (1024**3).to_bytes(8, "big") + b"\0" * 4096


@pytest.fixture
def image_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(IMAGE)))
            self.end_headers()
            self.wfile.write(IMAGE)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tiny.qcow2"
    server.shutdown()
    server.server_close()


def test_pools_and_volumes_from_the_dashboard(
    page: Any, stack: Stack, shots: Path, image_url: str
) -> None:
    name = f"pool-{uuid.uuid4().hex[:6]}"
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Storage pools").click()
    page.get_by_role("button", name="New pool").click()
    form = page.get_by_role("form", name="New storage pool")
    form.get_by_label("Pool name").fill(name)
    form.get_by_label("Pool type").select_option("dir")
    form.get_by_label("Directory").fill(f"{ROOT}/{name}")
    form.get_by_label("Capacity GiB").fill("20")
    form.get_by_label("Attach to sim-1").check()
    form.get_by_role("button", name="Create pool").click()
    card = page.locator(f'section[data-pool="{name}"]')
    expect(card).to_contain_text("active", timeout=20_000)
    expect(card.locator('[data-pool-host="sim-1"]')).to_contain_text("active")
    expect(card).to_contain_text("of 20.0 GiB")

    # the type-specific dialog refuses a path outside the allowed roots, nothing created
    page.get_by_role("button", name="New pool").click()
    form.get_by_label("Pool name").fill(f"{name}-bad")
    form.get_by_label("Directory").fill("/etc/lq-pool")
    form.get_by_role("button", name="Create pool").click()
    expect(form).to_contain_text("not under an allowed storage root")
    page.keyboard.press("Escape")

    page.get_by_role("navigation").get_by_role("link", name="Volumes").click()
    page.get_by_role("button", name="New volume").click()
    dialog = page.get_by_role("form", name="New volume")
    dialog.get_by_label("Pool", exact=True).select_option(index=_pool_index(page, name))
    dialog.get_by_label("Volume name").fill("data.qcow2")
    dialog.get_by_label("Size GiB").fill("2")
    dialog.get_by_role("button", name="Create volume").click()
    row = page.locator('tr[data-volume="data.qcow2"]')
    expect(row).to_contain_text("ready", timeout=20_000)
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("2.0 GiB")

    row.get_by_role("button", name="Resize").click()
    resize = page.get_by_role("form", name="Resize volume")
    resize.get_by_label("New size GiB").fill("3")
    resize.get_by_role("button", name="Resize").click()
    expect(row).to_contain_text("3.0 GiB", timeout=20_000)
    expect(row).to_contain_text("ready")

    row.get_by_role("button", name="Clone").click()
    clone = page.get_by_role("form", name="Clone volume")
    clone.get_by_label("Clone name").fill("copy.qcow2")
    clone.get_by_role("button", name="Clone").click()
    copy = page.locator('tr[data-volume="copy.qcow2"]')
    expect(copy).to_contain_text("ready", timeout=20_000)

    page.get_by_role("button", name="Import URL").click()
    imp = page.get_by_role("form", name="Import volume")
    imp.get_by_label("Pool", exact=True).select_option(index=_pool_index(page, name))
    imp.get_by_label("Volume name").fill("tiny.qcow2")
    imp.get_by_label("Image URL").fill(image_url)
    imp.get_by_label("Reserve GiB").fill("1")
    imp.get_by_role("button", name="Import").click()
    imported = page.locator('tr[data-volume="tiny.qcow2"]')
    expect(imported).to_contain_text("ready", timeout=20_000)
    expect(imported).to_contain_text("1.0 GiB")
    page.get_by_role("button", name="Upload file").click()
    up = page.get_by_role("form", name="Upload volume")
    up.get_by_label("Pool", exact=True).select_option(index=_pool_index(page, name))
    up.get_by_label("Image file").set_input_files(
        {"name": "blob.raw", "mimeType": "application/octet-stream", "buffer": b"x" * 8192}
    )
    expect(up.get_by_label("Volume name")).to_have_value("blob.raw")
    up.get_by_label("Format").select_option("raw")
    up.get_by_role("button", name="Upload").click()
    blob = page.locator('tr[data-volume="blob.raw"]')
    expect(blob).to_contain_text("ready", timeout=20_000)
    expect(blob).to_contain_text("8.0 KiB")
    # a volume operation the host fails shows its task's error, linked to the task
    page.get_by_role("button", name="Upload file").click()
    up.get_by_label("Pool", exact=True).select_option(index=_pool_index(page, name))
    up.get_by_label("Image file").set_input_files(
        {"name": "bad.qcow2", "mimeType": "application/octet-stream", "buffer": b"no image"}
    )
    up.get_by_role("button", name="Upload").click()
    bad = page.locator('tr[data-volume="bad.qcow2"]')
    expect(bad).to_contain_text("failed", timeout=20_000)
    error = bad.get_by_test_id("volume-error")
    expect(error).to_contain_text("not a qcow2 image")
    bad_task = stack.api("GET", "/tasks?state=failed&limit=50")["items"]
    (failed,) = [t for t in bad_task if t["target_name"] == "bad.qcow2"]
    assert failed["operation"] == "volume.upload" and "not a qcow2 image" in failed["error"]
    expect(error.get_by_role("link", name="task")).to_have_attribute(
        "href", f"/tasks/{failed['id']}"
    )
    page.screenshot(path=str(shots / "storage-volumes.png"), full_page=True)

    copy.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Delete volume").click()
    expect(copy).to_have_count(0, timeout=20_000)

    nav = page.get_by_role("navigation")
    nav.get_by_role("link", name="Storage pools").click()
    expect(nav.get_by_role("link", name="Storage pools")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Volumes")).not_to_have_attribute("aria-current", "page")
    expect(card).to_contain_text("Allocated 4.0 GiB of 20.0 GiB", timeout=20_000)
    expect(card).to_contain_text("3 volumes")
    page.screenshot(path=str(shots / "storage-pools.png"), full_page=True)
    pools = stack.api("GET", "/storage-pools")["items"]
    assert [p["allocated_bytes"] for p in pools if p["name"] == name] == [4 * 1024**3 + 8192]


def _pool_index(page: Any, name: str) -> int:
    """The option index of pool ``name`` in the open dialog's pool select."""
    options = page.get_by_label("Pool", exact=True).locator("option").all_inner_texts()
    return next(i for i, text in enumerate(options) if text.startswith(name + " "))
