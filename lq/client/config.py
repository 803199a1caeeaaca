"""Client contexts: which LimiQuantix API to talk to, and with which credentials.

A context is a name with a URL and a token (an access token from ``lq login`` with its
refresh token, or an API token). They live in ``$XDG_CONFIG_HOME/limiquantix/config.toml``
(``~/.config/…`` by default), written with mode 0600 because it holds secrets.
``LQ_CONTEXT`` picks a context for one command; ``LQ_URL`` and ``LQ_TOKEN`` override the
context's URL and token (scripts and CI need no file at all).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"


class ConfigError(Exception):
    """The config file or a context is missing or invalid."""


@dataclass(frozen=True)
class Context:
    name: str
    url: str = DEFAULT_URL
    token: str = ""
    refresh_token: str = ""


@dataclass
class Config:
    current: str = ""
    contexts: dict[str, Context] = field(default_factory=dict)


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "limiquantix" / "config.toml"


def load() -> Config:
    p = path()
    if not p.is_file():
        return Config()
    try:
        raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    contexts = {}
    for name, values in (raw.get("contexts") or {}).items():
        if not isinstance(values, dict):
            raise ConfigError(f"{p}: context {name!r} is not a table")
        contexts[name] = Context(
            name=name,
            url=str(values.get("url") or DEFAULT_URL),
            token=str(values.get("token") or ""),
            refresh_token=str(values.get("refresh_token") or ""),
        )
    return Config(current=str(raw.get("current") or ""), contexts=contexts)


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def save(cfg: Config) -> Path:
    p = path()
    p.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# LimiQuantix client contexts (lq context add|use|list, lq login)"]
    if cfg.current:
        lines.append(f"current = {_quote(cfg.current)}")
    for ctx in cfg.contexts.values():
        lines += ["", f"[contexts.{_quote(ctx.name)}]", f"url = {_quote(ctx.url)}"]
        if ctx.token:
            lines.append(f"token = {_quote(ctx.token)}")
        if ctx.refresh_token:
            lines.append(f"refresh_token = {_quote(ctx.refresh_token)}")
    tmp = p.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    tmp.replace(p)
    return p


def active(name: str | None = None) -> Context:
    """The context to use: ``name``, else ``LQ_CONTEXT``, else the current one, else a
    default for a local ``lq up``; then ``LQ_URL`` / ``LQ_TOKEN`` applied on top."""
    cfg = load()
    chosen = name or os.environ.get("LQ_CONTEXT") or cfg.current
    if chosen:
        if chosen not in cfg.contexts:
            raise ConfigError(f"no context {chosen!r} (lq context list)")
        ctx = cfg.contexts[chosen]
    else:
        ctx = Context(name="")
    if os.environ.get("LQ_URL"):
        ctx = replace(ctx, url=os.environ["LQ_URL"])
    if os.environ.get("LQ_TOKEN"):
        ctx = replace(ctx, token=os.environ["LQ_TOKEN"], refresh_token="")
    return ctx


def store_tokens(name: str, url: str, token: str, refresh_token: str) -> None:
    """Remember credentials in context ``name`` (created if new; made current if none is)."""
    cfg = load()
    cfg.contexts[name] = Context(name=name, url=url, token=token, refresh_token=refresh_token)
    if not cfg.current:
        cfg.current = name
    save(cfg)
