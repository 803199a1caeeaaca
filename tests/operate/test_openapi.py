"""The OpenAPI document against the live route table and against real answers.

Both directions: no route of the app is missing from the document, and the document
names no route the app lacks. Then the running API serves it without credentials, the
reference page loads offline (no outside URL), and real answers decode into the very
view types the document's schemas were generated from.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from events import settings as settings_mod
from events import views
from events.permissions import AUTHENTICATED, PERMISSIONS, PUBLIC
from lq import openapi
from lq.api_reference import OPERATIONS
from lq.web import build_app
from tests.integration.conftest import StackFactory


def app_document(tmp_path: Path) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    app = build_app(settings_mod.load({"data_dir": str(tmp_path)}, env={}))
    return openapi.document(app), set(openapi.live_routes(app))


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item}


def test_every_route_is_documented_and_every_documented_route_exists(tmp_path: Path) -> None:
    doc, live = app_document(tmp_path)
    table = {(op.method, op.path) for op in OPERATIONS}
    assert not live - table, f"routes missing from lq/api_reference.py: {sorted(live - table)}"
    assert not table - live, f"documented routes that do not exist: {sorted(table - live)}"
    assert documented(doc) == live


def test_document_is_well_formed(tmp_path: Path) -> None:
    doc, _ = app_document(tmp_path)
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', msgspec.json.encode(doc).decode()))
    assert refs <= set(schemas), f"dangling $ref: {refs - set(schemas)}"
    op_ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            op_ids.append(op["operationId"])
            perm = op["x-permission"]
            assert perm in PERMISSIONS or perm in (PUBLIC, AUTHENTICATED), (method, path)
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == set(re.findall(r"{([^}]+)}", path)), (method, path)
    assert len(op_ids) == len(set(op_ids))
    # the body schema is the handler's own type: constraints included
    create = schemas["CreateVmBody"]
    assert create["properties"]["vcpus"]["minimum"] == 1
    assert set(create["required"]) == {"name", "vcpus", "memory_mib"}
    assert doc["paths"]["/api/v1/vms"]["post"]["x-permission"] == "vm.create"
    assert doc["paths"]["/api/openapi.json"]["get"]["security"] == []


async def test_served_document_page_and_real_answers(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    import aiohttp

    async with aiohttp.ClientSession() as anon:  # public: no credentials
        async with anon.get(stack.base + "/api/openapi.json") as resp:
            assert resp.status == 200
            doc = await resp.json()
        async with anon.get(stack.base + "/api/docs") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/html"
            page = await resp.text()
    assert doc["info"]["title"] == "LimiQuantix API"
    assert ("POST", "/api/v1/vms") in documented(doc)
    assert "openapi.json" in page
    assert not re.search(r"""(src|href)=["']https?://""", page), "the page must work offline"

    made = await stack.command(
        "POST", "/api/v1/vms", json={"name": "doc-1", "vcpus": 1, "memory_mib": 128, "start": True}
    )
    await stack.wait_task(made["task_id"])
    decoded: list[Any] = []
    for path, kind in [
        ("/api/v1/vms", views.VmPage),
        (f"/api/v1/vms/{made['vm_id']}", views.VmView),
        ("/api/v1/hosts", views.HostPage),
        ("/api/v1/tasks", views.TaskPage),
        (f"/api/v1/tasks/{made['task_id']}", views.TaskView),
        ("/api/v1/events", views.EventPage),
        (f"/api/v1/vms/{made['vm_id']}/events", views.EventPage),
    ]:
        _, raw, _ = await stack.request("GET", path)
        decoded.append(msgspec.convert(raw, kind, strict=False))
    vms_page, vm = decoded[0], decoded[1]
    assert [v.id for v in vms_page.items] == [made["vm_id"]]
    assert vm.state == "running" and vm.host_name == "sim-1"
    assert decoded[5].items and decoded[5].items[0].seq >= 1
