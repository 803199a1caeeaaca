"""Trace context travels HTTP → controlplane → NATS → agent → libvirt → report → projection.

Spans are recorded with the SDK's in-memory exporter in this process (the whole stack runs
in the test's event loop), then checked for one trace id and the right parent links.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.conftest import StackFactory

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider can be set only once
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def _ours(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans()
        if s.context is not None and format(s.context.trace_id, "032x") == TRACE_ID
    ]  # fmt: skip


async def test_trace_context_reaches_agent_and_libvirt(
    make_stack: StackFactory, spans: InMemorySpanExporter
) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    vm = {"name": "traced-1", "vcpus": 1, "memory_mib": 256, "start": True}
    accepted = await stack.command("POST", "/api/v1/vms", json=vm, headers={"traceparent": PARENT})
    assert (await stack.wait_task(accepted["task_id"]))["state"] == "succeeded"

    names = {s.name for s in _ours(spans)}
    assert "HTTP POST /api/v1/vms" in names and "command vm" in names
    http = next(s for s in _ours(spans) if s.name == "HTTP POST /api/v1/vms")
    assert http.parent is not None and format(http.parent.span_id, "016x") == "00f067aa0ba902b7"

    order = next(s for s in _ours(spans) if s.name == "agent order DefineVm")
    assert order.kind == trace.SpanKind.CONSUMER and order.attributes
    assert order.attributes["lq.vm_id"] == accepted["vm_id"]
    assert order.context is not None
    calls = [s for s in _ours(spans) if s.name.startswith("libvirt ")]
    assert any(s.parent is not None and s.parent.span_id == order.context.span_id for s in calls), [
        s.name for s in calls
    ]
    # the agent's report carries the agent's span on to the controlplane
    report = next(s for s in _ours(spans) if s.name == "report OrderDone")
    assert report.parent is not None and report.parent.span_id == order.context.span_id

    # the projector's span of each batch links back to the trace of every event it applied
    linked: list[ReadableSpan] = []
    for _ in range(100):
        linked = [
            s for s in spans.get_finished_spans() if s.name == "projection batch"
            and any(format(link.context.trace_id, "032x") == TRACE_ID for link in s.links)
        ]  # fmt: skip
        if linked:
            break
        await asyncio.sleep(0.05)
    assert linked, "no projection span linked to the request's trace"
    ours = {s.context.span_id for s in _ours(spans) if s.context is not None}
    targets = {link.context.span_id for s in linked for link in s.links}
    assert targets & ours, "the links point at spans of the request's own chain"
    assert all(s.kind == trace.SpanKind.CONSUMER and s.parent is None for s in linked)
    assert linked[0].attributes and int(str(linked[0].attributes["lq.events"])) >= 1
