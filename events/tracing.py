"""OpenTelemetry tracing across processes, carried by the W3C ``traceparent``.

The chain of one user action: HTTP request → command handler → event envelope
(``traceparent``) → process manager → order on NATS (``Order.traceparent``) → agent →
libvirt call → report (``Report.traceparent``) → controlplane → events. Every hop already
carries the ``traceparent`` string; this module turns hops into spans: ``span(name,
parent=traceparent)`` starts a span under a remote parent, ``traceparent()`` is the
current span's header value for the next hop.

Off by default: without ``setup`` the OpenTelemetry API is a no-op (a span under a remote
parent then just passes that parent on). ``settings.otel_exporter`` = ``otlp`` (HTTP, to
``otel_endpoint``) or ``console`` turns recording on for a process. Only the API and SDK
are imported here; the OTLP exporter is imported when chosen.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from events.settings import Settings

log = logging.getLogger(__name__)
_propagator = TraceContextTextMapPropagator()
TRACER = trace.get_tracer("limiquantix")
SERVER, CONSUMER, INTERNAL = trace.SpanKind.SERVER, trace.SpanKind.CONSUMER, trace.SpanKind.INTERNAL


def setup(settings: Settings, service: str) -> bool:
    """Install a recording tracer provider for this process when an exporter is set."""
    exporter: SpanExporter
    if settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint or None)
    elif settings.otel_exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": f"limiquantix-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("tracing to %s (%s)", settings.otel_exporter, settings.otel_endpoint or "default")
    return True


def _parent(traceparent: str | None) -> context.Context | None:
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


@contextlib.contextmanager
def span(
    name: str, *, parent: str | None = None, kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    **attributes: Any,
) -> Iterator[Span]:  # fmt: skip
    """A span under ``parent`` (a traceparent from another process) or the current span.

    When this process records no spans and no ``parent`` is given, the no-op span would
    only repeat the current one: it is yielded as it is, without the API's work (a command
    and every API request pass here)."""
    if parent is None and not recording():
        yield trace.get_current_span()
        return
    attrs = {f"lq.{k}": v for k, v in attributes.items() if v is not None}
    with TRACER.start_as_current_span(
        name, context=_parent(parent), kind=kind, attributes=attrs
    ) as current:
        yield current


MAX_LINKS = 128  # the SDK's default limit of links per span


def recording() -> bool:
    """Whether this process records spans (without a provider, callers skip the work)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


@contextlib.contextmanager
def linked(
    name: str, traceparents: Iterable[str | None], *, kind: trace.SpanKind = CONSUMER,
    **attributes: Any,
) -> Iterator[Span | None]:  # fmt: skip
    """A new root span linked to every distinct valid ``traceparent`` (at most
    ``MAX_LINKS``): how one batch serving many traces (a projector's) joins each of them.
    Yields None, at no cost, when this process records no spans."""
    if not recording():
        yield None
        return
    links: list[trace.Link] = []
    seen: set[str] = set()
    for tp in traceparents:
        if not tp or tp in seen:
            continue
        seen.add(tp)
        remote = trace.get_current_span(_parent(tp)).get_span_context()
        if remote.is_valid:
            links.append(trace.Link(remote))
            if len(links) >= MAX_LINKS:
                break
    attrs = {f"lq.{k}": v for k, v in attributes.items() if v is not None}
    with TRACER.start_as_current_span(
        name, context=context.Context(), kind=kind, links=links, attributes=attrs
    ) as current:
        yield current


def traceparent() -> str | None:
    """The current span as a ``traceparent`` header value (None without a valid span)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")
