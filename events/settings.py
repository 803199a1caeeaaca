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
    # controlplane
    append_retries: int = 5
    order_timeout_s: float = 60.0
    heartbeat_timeout_s: float = 10.0
    read_wait_max_s: float = 5.0
    ready_max_lag: int = 1000
    default_cpu_overcommit: float = 4.0
    default_memory_overcommit: float = 1.0
    ui_dir: str = ""
    # projector
    projector_batch: int = 2000
    projector_linger_ms: int = 10
    db_schema: str = "lq"
    # agent
    agent_name: str = ""
    libvirt_uri: str = "test:///default"
    heartbeat_interval_s: float = 2.0
    # logging
    log_level: str = "INFO"
    log_json: bool = False

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def http_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"


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
