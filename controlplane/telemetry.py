"""Prometheus instruments of the controlplane (served at ``/metrics`` by ``lq.web``).

Module-level instruments in prometheus-client's default registry, as that library
intends: counting is a side effect any code may have, and a scrape reads them all.
"""

from __future__ import annotations

from prometheus_client import Counter

COMMANDS = Counter(
    "lq_commands_total", "Commands decided and appended (decisions with events)", ["kind"]
)
CONFLICTS = Counter(
    "lq_append_conflicts_total", "Appends refused for a stale expected version", ["kind"]
)
CONTENTION = Counter(
    "lq_command_contention_total", "Commands given up after every retry conflicted", ["kind"]
)
REPORTS = Counter("lq_reports_total", "Agent reports handled", ["type", "outcome"])
