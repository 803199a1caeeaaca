"""Prometheus instruments of a host agent (served when ``prometheus_port`` is set)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ORDER_SECONDS = Histogram(
    "lq_agent_order_seconds",
    "From receiving an order to its report being sent",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
SAMPLE_SECONDS = Histogram(
    "lq_agent_metrics_sample_seconds",
    "Reading the hypervisor's counters for one metrics sample",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
SAMPLES = Counter("lq_agent_metrics_samples_total", "Metrics samples", ["outcome"])
