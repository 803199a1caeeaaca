"""Prometheus ``/metrics`` on the controlplane and JSON log lines carrying their ids."""

from __future__ import annotations

import json
import logging

from events import logctx
from lq.logs import JsonFormatter
from tests.integration.conftest import StackFactory

VM = {"name": "observed-1", "vcpus": 1, "memory_mib": 256, "start": True}


async def test_controlplane_serves_prometheus_metrics(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    accepted = await stack.command("POST", "/api/v1/vms", json=VM)
    await stack.wait_task(accepted["task_id"])
    status, text, ctype = await stack.request("GET", "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    assert 'lq_http_request_seconds_count{method="POST",route="/api/v1/vms",status="202"}' in text
    assert 'lq_commands_total{kind="vm"}' in text
    assert "lq_projector_lag_events" in text
    assert "lq_agent_order_seconds_count" in text  # the in-process agent's instruments
    async with stack.http.get(stack.base + "/api/v1/vms") as resp:
        assert resp.headers["X-Correlation-Id"]


def test_json_lines_carry_bound_and_inline_ids() -> None:
    fmt = JsonFormatter("agent")
    host = "0191f0c4-0000-7000-8000-00000000000a"
    vm = "0191f0c4-0000-7000-8000-00000000000b"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "vm_id=%s started", (vm,), None)
    with logctx.bind(correlation_id="req-7", host_id=host):
        line = json.loads(fmt.format(record))
    assert line["vm_id"] == vm and line["host_id"] == host and line["correlation_id"] == "req-7"
    assert line["process"] == "agent" and line["msg"] == f"vm_id={vm} started"
    assert "host_id" not in json.loads(fmt.format(record))  # unbound after the block
