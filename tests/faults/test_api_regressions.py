"""What the schema fuzzing (test_api_schema.py) found, each pinned by its own test.

- A ``min_seq`` past the end of the event log was waited for until ``read_wait_max_s``
  and answered ``504``: no command ever answered that sequence, so it is a client error,
  refused at once with ``400 invalid-parameter``. A sequence inside the log that the read
  model has not reached yet is still waited for.
- ``?schema=<name>`` naming a read model that does not exist answered
  ``503 unavailable`` ("not built yet"): the caller's mistake, now ``400``.
- A webhook named ``"\u0000…"`` was accepted; PostgreSQL cannot hold U+0000 in text or
  jsonb, so its event stopped the projector for good (every later change invisible).
  Every command body with a NUL character is now refused (``422``), nothing appended.
- A snapshot description goes into libvirt's snapshot XML, and ElementTree writes a
  control character as is: XML no parser accepts, found only at the host. It is now
  refused (``422``), like control characters in names (``agent.domxml.validate``).
"""

from __future__ import annotations

import time

from tests.faults.test_api_schema import read_model_caught_up
from tests.integration.conftest import StackFactory

INVALID_PARAM = "urn:limiquantix:problem:invalid-parameter"


async def test_min_seq_past_the_event_log_is_refused_at_once(make_stack: StackFactory) -> None:
    stack = await make_stack()
    end = int((await stack.get("/ready"))["checks"]["stream_seq"])
    for path in ("/api/v1/vms", "/api/v1/tasks", "/api/v1/webhooks", "/api/v1/alerts"):
        started = time.monotonic()
        status, problem, ctype = await stack.request("GET", f"{path}?min_seq={end + 1000}")
        assert (status, problem["type"]) == (400, INVALID_PARAM), (path, problem)
        assert ctype.startswith("application/problem+json")
        assert "past the end of the event log" in problem["detail"]
        assert time.monotonic() - started < stack.settings.read_wait_max_s / 2
    # a token inside the log still gives read-your-writes
    made = await stack.command(
        "POST", "/api/v1/vms", json={"name": "rr-1", "vcpus": 1, "memory_mib": 128}
    )
    vm = await stack.get(f"/api/v1/vms/{made['vm_id']}?min_seq={made['seq']}")
    assert vm["id"] == made["vm_id"]


async def test_unknown_read_model_schema_is_a_client_error(make_stack: StackFactory) -> None:
    stack = await make_stack()
    for path in ("/api/v1/vms", "/api/v1/roles", "/api/v1/stats", "/api/v1/silences"):
        status, problem, _ = await stack.request("GET", f"{path}?schema=no_such_model")
        assert (status, problem["type"]) == (400, INVALID_PARAM), (path, problem)
        assert "lq replay --into no_such_model" in problem["detail"]
    # the live read model is still served by its own name
    own = stack.settings.db_schema
    status, _, _ = await stack.request("GET", f"/api/v1/vms?schema={own}")
    assert status == 200


async def test_nul_characters_never_reach_the_event_log(make_stack: StackFactory) -> None:
    stack = await make_stack()
    before = int((await stack.get("/ready"))["checks"]["stream_seq"])
    for path, body in [
        ("/api/v1/webhooks", {"name": "\x00hook", "url": "http://127.0.0.1:9/x"}),
        ("/api/v1/vms", {"name": "n1", "vcpus": 1, "memory_mib": 128, "description": "a\x00"}),
        ("/api/v1/silences", {"duration_s": 3600, "comment": "\x00"}),
        ("/api/v1/roles", {"name": "r1", "description": "\x00", "permissions": ["vm.read"]}),
    ]:
        status, problem, _ = await stack.request("POST", path, json=body)
        assert (status, problem["type"]) == (422, "urn:limiquantix:problem:invalid-body"), (
            path,
            problem,
        )
        assert "NUL" in problem["detail"]
    assert int((await stack.get("/ready"))["checks"]["stream_seq"]) == before
    # the text "\u0000" (a backslash, then u0000) is ordinary text
    made = await stack.command(
        "POST",
        "/api/v1/vms",
        json={"name": "n2", "vcpus": 1, "memory_mib": 128, "description": "\\u0000"},
    )
    vm = await stack.get(f"/api/v1/vms/{made['vm_id']}?min_seq={made['seq']}")
    assert vm["description"] == "\\u0000"
    await read_model_caught_up(stack)


async def test_snapshot_description_with_control_characters_is_refused(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    made = await stack.command(
        "POST", "/api/v1/vms", json={"name": "snap-1", "vcpus": 1, "memory_mib": 128}
    )
    assert (await stack.wait_task(made["task_id"]))["state"] == "succeeded"
    path = f"/api/v1/vms/{made['vm_id']}/snapshots"
    for text in ("bell\x07", "esc\x1b[31m", "\x0b"):
        status, problem, _ = await stack.request(
            "POST", path, json={"name": "s1", "description": text}
        )
        assert (status, problem["type"]) == (422, "urn:limiquantix:problem:invalid-body"), text
    # tabs, newlines, quotes and angle brackets are text: escaped into the XML, kept as is
    text = "line 1\n\t<b>\"quoted\" & 'single'</b> ✓"
    done = await stack.command("POST", path, json={"name": "s2", "description": text})
    assert (await stack.wait_task(done["task_id"]))["state"] == "succeeded"
    snaps = (await stack.get(f"{path}?min_seq={done['seq']}"))["items"]
    assert [s["description"] for s in snaps] == [text]
