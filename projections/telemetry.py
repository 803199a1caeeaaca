"""Prometheus instruments of the projectors (read model and metrics).

Served by the projector process when ``prometheus_port`` is set; the controlplane's own
``/metrics`` also reports the read model's lag behind the stream (``lq.web``), since it
knows both the stream position and the checkpoint.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("lq_projector_events_total", "Events applied to the read model")
CHECKPOINT = Gauge("lq_projector_checkpoint", "Last stream sequence applied to the read model")
BATCH_SECONDS = Histogram(
    "lq_projector_batch_seconds",
    "One read-model batch transaction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LAG = Gauge("lq_projector_lag_events", "Events in the stream not yet in the read model")
METRICS_SAMPLES = Counter("lq_metrics_samples_total", "Metrics samples ingested")
METRICS_ROWS = Counter("lq_metrics_rows_total", "Metrics rows written (hosts and VMs)")
METRICS_LOST = Counter(
    "lq_metrics_lost_total",
    "Metrics samples never ingested: expired from LQ_METRICS before the projector read them",
)
METRICS_CHECKPOINT = Gauge("lq_metrics_checkpoint", "Last LQ_METRICS sequence ingested")
METRICS_BATCH_SECONDS = Histogram(
    "lq_metrics_batch_seconds",
    "One metrics ingest transaction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
WEBHOOK_ATTEMPTS = Counter(
    "lq_webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"]
)
WEBHOOK_CHECKPOINT = Gauge(
    "lq_webhook_checkpoint", "Last stream sequence the webhook dispatcher queued deliveries for"
)
