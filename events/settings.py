"""One frozen settings object per process, read in one place.

Sources, later wins: defaults below → a TOML file (``LQ_CONFIG``, or ``<data dir>/lq.toml``
when present) → ``LQ_*`` environment variables → explicit overrides from the CLI. When no
NATS or PostgreSQL URL is given, the endpoints that a running embedded stack wrote to
``<data dir>/endpoints.json`` are used. Every setting is documented in docs/settings.md.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import msgspec

DEFAULT_BOOT_ROOTS = "/var/lib/limiquantix/boot,/var/cache/limiquantix,/boot"
"""Where a direct-boot kernel/initrd may live on a host unless ``agent_boot_roots`` says."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data_dir: str = ".lq"
    nats_url: str = ""
    database_url: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # event stream
    events_replicas: int = 1
    events_sync_always: bool = False
    dedup_window_s: float = 120.0
    # an append NATS does not answer: each try waits this long, then is sent again (the
    # same message: JetStream keeps one) up to this many times before the command answers
    # 503 (docs/reliability.md); the budget is about tries x timeout
    events_append_timeout_s: float = 5.0
    events_append_retries: int = 6
    # controlplane
    append_retries: int = 5
    order_timeout_s: float = 60.0
    heartbeat_timeout_s: float = 10.0
    read_wait_max_s: float = 5.0
    ready_max_lag: int = 1000
    ws_max_clients: int = 1000  # live-change WebSockets per API process (docs/reliability.md)
    default_cpu_overcommit: float = 4.0
    default_memory_overcommit: float = 1.0
    leader_ttl_s: float = 15.0  # lease of leader-only jobs (KV lq_leader); takeover bound
    ui_dir: str = ""
    # projector
    projector_batch: int = 2000
    projector_linger_ms: int = 10
    db_schema: str = "lq"
    # agent
    agent_name: str = ""
    libvirt_uri: str = "test:///default"
    heartbeat_interval_s: float = 2.0
    agent_domain_type: str = "auto"  # "auto" | "kvm" | "qemu" (TCG): <domain type> on QEMU
    # direct kernel boot: kernel/initrd must lie under one of these (comma-separated);
    # libvirt relabels/chowns boot files, so an arbitrary host path must never be accepted
    agent_boot_roots: str = DEFAULT_BOOT_ROOTS
    agent_sweep_interval_s: float = 5.0  # reconcile sweep + NIC addresses; 0 = off
    # console relay (docs/console.md)
    console_max_sessions: int = 16  # console sessions one agent relays at once
    console_idle_timeout_s: float = 60.0  # an agent ends a session its controlplane left
    # metrics (docs/metrics.md)
    metrics_interval_s: float = 5.0
    metrics_raw_retention_h: float = 24.0
    metrics_1m_retention_d: float = 30.0
    metrics_1h_retention_d: float = 365.0
    metrics_batch: int = 1000
    prometheus_port: int = 0
    # alerting (docs/alerting.md)
    alert_rules_json: str = ""
    alert_flap_cooldown_s: float = 300.0
    alert_notify_attempts: int = 3
    alert_webhook_url: str = ""
    alert_webhook_secret: str = ""
    alert_email_to: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "limiquantix@localhost"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # webhook subscriptions (docs/webhooks.md)
    webhook_max_attempts: int = 8  # attempts per delivery before it is marked failed
    webhook_backoff_s: float = 1.0  # delay before the 2nd attempt; doubles each time, jittered
    webhook_backoff_max_s: float = 600.0  # longest delay between two attempts
    webhook_timeout_s: float = 10.0  # one attempt (connect + answer) gives up after this
    webhook_retention_d: float = 7.0  # finished deliveries are kept in the log this long
    # storage pools and volumes (docs/storage.md)
    storage_allowed_roots: str = "/var/lib/limiquantix/pools"  # comma-separated dir-pool roots
    storage_state_interval_s: float = 30.0  # how often agents report their pools' state
    storage_redrive_s: float = 60.0  # an unanswered volume operation is asked again after this
    volume_task_timeout_s: float = 600.0  # a volume task not done by then fails (its reason)
    # placement and live migration (docs/clusters.md)
    placement_strategy: str = "spread"  # "spread" (least loaded first) or "pack" (fullest first)
    placement_load_weight: float = 0.5  # weight of measured load (metrics) in placement; 0 = off
    load_max_age_s: float = 20.0  # a host's metrics sample older than this is not its load
    migrations_per_host: int = 2  # concurrent migrations touching one host (source or dest)
    migrations_per_cluster: int = 5  # concurrent migrations whose source is in one cluster
    # high availability (docs/ha.md)
    ha_down_grace_s: float = 5.0  # disconnected this much longer → down
    ha_fence_after_s: float = 15.0  # an agent without its lease this long destroys its HA VMs
    ha_fence_margin_s: float = 3.0  # restarts wait lease age > fence_after + this margin
    ha_interval_s: float = 1.0  # HA sweep period (leader only)
    # DRS (docs/drs.md)
    drs_mode: str = "manual"  # "manual" | "partial" | "full"
    drs_interval_s: float = 300.0  # DRS pass period (leader only); 0 = off
    drs_threshold: int = 3  # "full" applies recommendations of this priority (1..5) or above
    drs_tolerance: float = 0.05  # imbalance (stddev of host load) below which DRS proposes nothing
    drs_batch_size: int = 5  # recommendations made (and applied) per pass at most
    drs_cooldown_s: float = 900.0  # a VM DRS moved is not proposed again this soon
    drs_recommendation_ttl_s: float = 1800.0  # an unanswered recommendation expires
    drs_max_migrations_per_host: int = 2  # moves per pass into or out of one host
    # tracing
    otel_exporter: str = ""  # "", "otlp" or "console"
    otel_endpoint: str = ""  # OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces
    # authentication and TLS (docs/security.md)
    admin_password: str = ""
    auth_signing_key_file: str = ""
    auth_access_ttl_s: float = 900.0
    auth_refresh_ttl_s: float = 7 * 24 * 3600.0
    auth_user_max_failures: int = 5
    auth_address_max_failures: int = 20
    auth_failure_window_s: float = 900.0
    auth_lockout_s: float = 300.0
    tls_cert_file: str = ""
    tls_key_file: str = ""
    nats_tls_ca_file: str = ""
    nats_tls_cert_file: str = ""
    nats_tls_key_file: str = ""
    # NATS authorization (docs/security.md): "auto" = on in `lq up`'s embedded server (and
    # a CLI command beside it uses the data dir's service key), "off", "embedded", or
    # "jwt" (operator mode: host user JWTs signed with nats_account_seed_file)
    nats_auth: str = "auto"
    nats_nkey_seed_file: str = ""  # this process's nkey seed (<data dir>/nats-service.nk)
    nats_enroll_seed_file: str = ""  # an agent's join credential (<data dir>/nats-enroll.nk)
    # nats_auth = "jwt" (operator mode; docs/security.md): this process's .creds file (a
    # service user, or an agent's join credential) and the controlplane's account seed
    nats_creds_file: str = ""
    nats_account_seed_file: str = ""
    nats_host_jwt_ttl_s: float = 86400.0  # a host's user JWT; the agent renews it at half
    # one-time host join tokens (docs/security.md, Enrolment): the controlplane refuses a
    # new host without a valid token when required; an agent presents its token once
    join_token_required: bool = False
    agent_join_token: str = ""  # `lq agent --join-token` (or LQ_AGENT_JOIN_TOKEN)
    # logging
    log_level: str = "INFO"
    log_json: bool = False

    @property
    def boot_roots(self) -> tuple[str, ...]:
        """``agent_boot_roots`` as absolute paths (a direct-boot kernel/initrd lies under one)."""
        return tuple(
            os.path.normpath(p.strip()) for p in self.agent_boot_roots.split(",") if p.strip()
        )

    @property
    def storage_roots(self) -> tuple[str, ...]:
        """``storage_allowed_roots`` as absolute paths (a dir pool must lie under one)."""
        return tuple(
            os.path.normpath(p.strip()) for p in self.storage_allowed_roots.split(",") if p.strip()
        )

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def metrics_schema(self) -> str:
        """PostgreSQL schema of the metrics tables: beside the read model, never rebuilt."""
        return self.db_schema + "_metrics"

    @property
    def webhook_schema(self) -> str:
        """PostgreSQL schema of the webhook dispatcher (delivery log): never rebuilt."""
        return self.db_schema + "_webhooks"

    @property
    def http_url(self) -> str:
        scheme = "https" if self.tls_cert_file else "http"
        return f"{scheme}://{self.http_host}:{self.http_port}"


_FIELDS = {f.name: f for f in msgspec.structs.fields(Settings)}


def _from_env(env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELDS:
        raw = env.get("LQ_" + name.upper())
        if raw is not None:
            out[name] = raw
    return out


def endpoints_file(data_dir: str | Path) -> Path:
    return Path(data_dir).expanduser().resolve() / "endpoints.json"


def load(overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Build the process's settings. Raises ``msgspec.ValidationError`` on bad values."""
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    explicit = {k: v for k, v in (overrides or {}).items() if v is not None}
    data_dir = explicit.get("data_dir") or env.get("LQ_DATA_DIR") or ".lq"
    toml_path = env.get("LQ_CONFIG") or str(Path(data_dir) / "lq.toml")
    if Path(toml_path).is_file():
        with open(toml_path, "rb") as fh:
            values.update(tomllib.load(fh))
    values.update(_from_env(env))
    values.update(explicit)
    values.setdefault("data_dir", data_dir)
    settings = msgspec.convert(values, Settings, strict=False)
    if not settings.nats_url or not settings.database_url:
        ep = endpoints_file(settings.data_dir)
        if ep.is_file():
            found = json.loads(ep.read_text())
            settings = msgspec.structs.replace(
                settings,
                nats_url=settings.nats_url or found.get("nats_url", ""),
                database_url=settings.database_url or found.get("database_url", ""),
            )
    return settings
