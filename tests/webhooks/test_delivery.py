"""Webhook delivery end to end: real NATS, PostgreSQL, controlplane HTTP, dispatcher and an
in-process receiver. Filters, signatures, retries with backoff, failures, isolation of a
dead receiver, and deletion."""

from __future__ import annotations

import asyncio
from typing import Any

from events import webhook as we
from projections import webhook_dispatch
from tests.integration.conftest import Stack, StackFactory
from tests.webhooks.conftest import (
    FAST,
    HookStack,
    Receivers,
    deliveries,
    eventually,
    make_role,
    subscribe,
)


async def test_filters_by_kind_and_type_and_every_delivery_is_signed(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack()
    roles = await subscribe(stack, "roles", receivers.url("roles"), kinds=["role"])
    users = await subscribe(stack, "users", receivers.url("users"), types=["user.created"])
    assert roles["secret"].startswith("whsec_") and roles["secret"] != users["secret"]
    await make_role(stack, "auditors")
    status, body, _ = await stack.request(
        "POST",
        "/api/v1/users",
        json={"username": "carol", "password": "carol-password-1", "roles": [{"role": "viewer"}]},
    )
    assert status == 201, body
    await eventually(lambda: _count(receivers, "users", 1))
    await eventually(lambda: _count(receivers, "roles", 1))
    await asyncio.sleep(0.5)  # nothing else arrives (user.password_changed is filtered out)
    assert [h.type for h in receivers.at("roles")] == ["role.created"]
    assert [h.type for h in receivers.at("users")] == ["user.created"]
    for path, sub in (("roles", roles), ("users", users)):
        (hit,) = receivers.at(path)
        h = hit.headers
        assert we.verify(
            sub["secret"], h["X-LimiQuantix-Timestamp"], hit.body, h["X-LimiQuantix-Signature"]
        )
        assert not we.verify(
            users["secret"] if path == "roles" else roles["secret"],
            h["X-LimiQuantix-Timestamp"],
            hit.body,
            h["X-LimiQuantix-Signature"],
        )
        env = hit.envelope
        assert h["X-LimiQuantix-Event"] == env["event"]["type"]
        assert h["X-LimiQuantix-Delivery"] == we.delivery_id(sub["webhook_id"], env["event_id"])
        assert h["Content-Type"] == "application/json"
        assert int(h["X-LimiQuantix-Seq"]) > 0
        assert env["hash"] and env["actor"] == "user:admin"  # the envelope as stored
    (log,) = await deliveries(stack, roles)
    assert log["status"] == "delivered" and log["attempts"] == 1 and log["response_code"] == 204


async def test_a_receiver_failing_three_times_gets_the_event_accepted_exactly_once(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack()
    receivers.fail_first["flaky"] = 3
    sub = await subscribe(stack, "flaky", receivers.url("flaky"), kinds=["role"])
    await make_role(stack, "flaky-role")

    async def delivered() -> list[dict[str, Any]]:
        items = await deliveries(stack, sub)
        return items if items and items[0]["status"] == "delivered" else []

    (log,) = await eventually(delivered)
    assert log["attempts"] == 4
    assert [a["response_code"] for a in log["attempt_log"]] == [500, 500, 500, 204]
    hits = receivers.at("flaky")
    assert len(hits) == 4
    assert len(receivers.at("flaky", accepted=True)) == 1
    assert {h.headers["X-LimiQuantix-Delivery"] for h in hits} == {log["id"]}
    assert [h.headers["X-LimiQuantix-Attempt"] for h in hits] == ["1", "2", "3", "4"]
    assert len({h.body for h in hits}) == 1  # the same event every time
    detail = await stack.get(f"/api/v1/webhooks/{sub['webhook_id']}?min_seq={sub['seq']}")
    assert detail["deliveries"]["delivered"] == 1 and detail["failures"] == 0


async def test_retries_end_in_a_failed_delivery_counted_on_the_subscription(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack(webhook_max_attempts=3)
    receivers.fail_first["down"] = 1000
    sub = await subscribe(stack, "down", receivers.url("down"), kinds=["role"])
    await make_role(stack, "doomed")

    async def failed() -> list[dict[str, Any]]:
        items = await deliveries(stack, sub)
        return items if items and items[0]["status"] == "failed" else []

    (log,) = await eventually(failed)
    assert log["attempts"] == 3 and log["response_code"] == 500 and log["error"] == "HTTP 500"
    await asyncio.sleep(0.5)
    assert len(receivers.at("down")) == 3  # no attempt after the last
    detail = await stack.get(f"/api/v1/webhooks/{sub['webhook_id']}?min_seq={sub['seq']}")
    assert detail["failures"] == 1 and detail["deliveries"]["failed"] == 1


async def test_a_dead_receiver_does_not_block_another_subscription(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack(webhook_timeout_s=5.0)
    receivers.hang.add("stuck")
    stuck = await subscribe(stack, "stuck", receivers.url("stuck"), kinds=["role"])
    gone = await subscribe(stack, "refused", "http://127.0.0.1:9/nobody", kinds=["role"])
    fine = await subscribe(stack, "fine", receivers.url("fine"), kinds=["role"])
    started = asyncio.get_running_loop().time()
    for i in range(5):
        await make_role(stack, f"busy-{i}")
    await eventually(lambda: _count(receivers, "fine", 5), timeout=12)
    # five events at five seconds each would take 25 s through one queue
    assert asyncio.get_running_loop().time() - started < 12
    assert receivers.at("stuck") == []  # still hanging on its first attempt
    stuck_log = await deliveries(stack, stuck)
    assert len(stuck_log) == 5 and {d["status"] for d in stuck_log} == {"pending"}
    refused = await deliveries(stack, gone)
    assert refused and all(d["error"] for d in refused if d["attempts"])
    assert fine["webhook_id"] not in (stuck["webhook_id"], gone["webhook_id"])


async def test_deleting_or_disabling_a_subscription_stops_its_deliveries(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack()
    sub = await subscribe(stack, "doomed", receivers.url("doomed"), kinds=["role"])
    sentinel = await subscribe(stack, "sentinel", receivers.url("sentinel"), kinds=["role"])
    await make_role(stack, "before")
    await eventually(lambda: _count(receivers, "doomed", 1))

    wid = sub["webhook_id"]
    status, body, _ = await stack.request(
        "PATCH", f"/api/v1/webhooks/{wid}", json={"enabled": False}
    )
    assert status == 202, body
    await make_role(stack, "while-disabled")
    await eventually(lambda: _count(receivers, "sentinel", 2))
    status, body, _ = await stack.request(
        "PATCH", f"/api/v1/webhooks/{wid}", json={"enabled": True}
    )
    assert status == 202, body
    await make_role(stack, "enabled-again")
    await eventually(lambda: _count(receivers, "doomed", 2))
    assert [h.envelope["event"]["role"] for h in receivers.at("doomed")] == [
        "before",
        "enabled-again",
    ]

    status, body, _ = await stack.request("DELETE", f"/api/v1/webhooks/{wid}")
    assert status == 202, body
    await make_role(stack, "after")
    await eventually(lambda: _count(receivers, "sentinel", 4))
    await asyncio.sleep(0.3)
    assert len(receivers.at("doomed")) == 2
    status, _, _ = await stack.request("GET", f"/api/v1/webhooks/{wid}?min_seq={body['seq']}")
    assert status == 404
    listed = await stack.get("/api/v1/webhooks")
    assert [w["id"] for w in listed["items"]] == [sentinel["webhook_id"]]


async def test_a_test_delivery_goes_to_its_own_subscription_only(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack()
    sub = await subscribe(stack, "pinged", receivers.url("pinged"), kinds=["role"])
    await subscribe(stack, "everything", receivers.url("everything"))
    wid = sub["webhook_id"]
    status, body, _ = await stack.request("POST", f"/api/v1/webhooks/{wid}/actions/test")
    assert status == 202, body
    (hit,) = await eventually(lambda: _hits(receivers, "pinged", 1))
    assert hit.type == we.PING and hit.headers["X-LimiQuantix-Delivery"] == body["delivery_id"]
    await make_role(stack, "after-ping")
    await eventually(lambda: _count(receivers, "everything", 1))
    assert [h.type for h in receivers.at("everything")] == ["role.created"]
    newest, ping = await deliveries(stack, sub)  # newest first
    assert newest["event_type"] == "role.created"
    assert ping["id"] == body["delivery_id"] and ping["event_type"] == we.PING


async def test_a_rotated_secret_signs_from_then_on(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack()
    sub = await subscribe(stack, "rotating", receivers.url("rot"), kinds=["role"])
    wid = sub["webhook_id"]
    status, rotated, _ = await stack.request(
        "POST", f"/api/v1/webhooks/{wid}/actions/rotate-secret"
    )
    assert status == 200 and rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != sub["secret"]
    await make_role(stack, "after-rotation")
    (hit,) = await eventually(lambda: _hits(receivers, "rot", 1))
    ts, sig = hit.headers["X-LimiQuantix-Timestamp"], hit.headers["X-LimiQuantix-Signature"]
    assert we.verify(rotated["secret"], ts, hit.body, sig)
    assert not we.verify(sub["secret"], ts, hit.body, sig)
    detail = await stack.get(f"/api/v1/webhooks/{wid}?min_seq={rotated['seq']}")
    assert detail["secret_rotated_by"] == "user:admin" and detail["secret_rotated_at"]
    events = await stack.get(
        f"/api/v1/events?kind=webhook&aggregate_id={wid}&min_seq={rotated['seq']}"
    )
    assert [e["type"] for e in events["items"]] == ["webhook.created", "webhook.secret_rotated"]
    assert rotated["secret"] not in str(events) and sub["secret"] not in str(events)


async def test_the_secret_is_shown_once_and_never_stored_in_events(
    hook_stack: HookStack, receivers: Receivers
) -> None:
    stack = await hook_stack()
    sub = await subscribe(stack, "secretive", receivers.url("s"), kinds=["role"])
    await stack.request("PATCH", f"/api/v1/webhooks/{sub['webhook_id']}", json={"name": "x"})
    status, events, _ = await stack.request(
        "GET", f"/api/v1/events?kind=webhook&min_seq={sub['seq']}"
    )
    assert status == 200 and events["items"]
    _, listed, _ = await stack.request("GET", "/api/v1/webhooks")
    _, detail, _ = await stack.request("GET", f"/api/v1/webhooks/{sub['webhook_id']}")
    for answer in (events, listed, detail):
        assert sub["secret"] not in str(answer)
    assert detail["url"] == receivers.url("s") and "secret" not in detail


async def _count(receivers: Receivers, path: str, n: int) -> bool:
    return len(receivers.at(path)) >= n


async def _hits(receivers: Receivers, path: str, n: int) -> list[object]:
    found = receivers.at(path)
    return list(found) if len(found) >= n else []


async def test_a_standby_dispatcher_takes_over_what_is_pending(
    make_stack: StackFactory, receivers: Receivers
) -> None:
    stack = await make_stack(**{**FAST, "webhook_backoff_s": 1.0, "webhook_backoff_max_s": 1.0})
    receivers.fail_first["later"] = 2
    sub = await subscribe(stack, "later", receivers.url("later"), kinds=["role"])
    await make_role(stack, "queued-before-any-dispatcher")
    first, second = asyncio.Event(), asyncio.Event()
    one = asyncio.create_task(webhook_dispatch.run(stack.settings, first))
    await eventually(lambda: _attempted(stack, sub))  # recorded; the retry waits 0.5-1 s
    two = asyncio.create_task(webhook_dispatch.run(stack.settings, second))  # waits: standby
    first.set()
    await asyncio.wait_for(one, 10)
    try:
        (log,) = await eventually(lambda: _finished(stack, sub))
    finally:
        second.set()
        await asyncio.wait_for(two, 10)
    assert log["status"] == "delivered" and log["attempts"] == 3
    assert len(receivers.at("later")) == 3 and len(receivers.at("later", accepted=True)) == 1


async def _attempted(stack: Stack, sub: dict[str, Any]) -> bool:
    items = await deliveries(stack, sub)
    return bool(items) and items[0]["attempts"] == 1


async def _finished(stack: Stack, sub: dict[str, Any]) -> list[dict[str, Any]]:
    items = await deliveries(stack, sub)
    return items if items and items[0]["status"] != "pending" else []
