"""Where each process setting came from, with secrets redacted: for operators, read-only.

``events.settings.load`` merges defaults, a TOML file, ``LQ_*`` variables, command-line
flags and the endpoints a running embedded stack wrote; the merged object forgets which
won. ``describe`` reconstructs it for one running process by asking the same sources again
in the same order, so the dashboard can say "``http_port`` = 8443, from ``LQ_HTTP_PORT``".
A value that none of the files or variables explain came from a command-line flag.
Passwords, secrets and the password part of URLs are never shown.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from events.settings import Settings, endpoints_file

REDACTED = "••••••"
_SECRET_WORDS = ("password", "secret", "token")


class ProcessSetting(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    value: Any
    source: str  # "default", "env LQ_X", "toml <path>", "endpoints.json", "command line"
    secret: bool = False


def _redact_url(url: str) -> str:
    """The URL(s) without the password of their user:password part."""
    out = []
    for one in url.split(","):
        parts = urlsplit(one.strip())
        if parts.password:
            host = parts.hostname or ""
            netloc = f"{parts.username}:{REDACTED}@{host}" + (
                f":{parts.port}" if parts.port else ""
            )
            out.append(urlunsplit(parts._replace(netloc=netloc)))
        else:
            out.append(one)
    return ",".join(out)


def _toml(env: dict[str, str], data_dir: str) -> tuple[str, dict[str, Any]]:
    path = env.get("LQ_CONFIG") or str(Path(data_dir) / "lq.toml")
    if not Path(path).is_file():
        return path, {}
    try:
        with open(path, "rb") as fh:
            return path, tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return path, {}


def describe(settings: Settings, env: dict[str, str] | None = None) -> list[ProcessSetting]:
    """Every process setting with its value and its source, secrets redacted."""
    env = dict(os.environ) if env is None else env
    defaults = Settings()
    toml_path, toml = _toml(env, settings.data_dir)
    endpoints: dict[str, Any] = {}
    ep = endpoints_file(settings.data_dir)
    if ep.is_file():
        try:
            endpoints = json.loads(ep.read_text())
        except (OSError, ValueError):
            endpoints = {}
    out = []
    for field in msgspec.structs.fields(Settings):
        name = field.name
        value = getattr(settings, name)
        var = "LQ_" + name.upper()
        if var in env:
            source = f"env {var}"
        elif name in toml:
            source = f"toml {toml_path}"
        elif name in ("nats_url", "database_url") and value and value == endpoints.get(name):
            source = "endpoints.json"
        elif value != getattr(defaults, name):
            source = "command line"
        else:
            source = "default"
        secret = any(w in name for w in _SECRET_WORDS)
        if secret:
            value = REDACTED if value else ""
        elif name.endswith("_url") and isinstance(value, str):
            value = _redact_url(value)
        out.append(ProcessSetting(name=name, value=value, source=source, secret=secret))
    return out
