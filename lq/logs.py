"""Logging set-up for every ``lq`` process: readable text by default, JSON on request.

JSON lines carry the ids a reader filters by: ``correlation_id``, ``vm_id``, ``host_id``,
``task_id`` — from ``extra=`` on the call, from the context bound with
``events.logctx.bind`` (the HTTP middleware binds each request's correlation id, the
agent the VM, host and task of the order it executes), and, for the many existing lines
written as ``vm_id=<id>`` / ``host_id=<id>``, from the message itself.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from events import logctx

_INLINE = re.compile(r"\b(vm_id|host_id|task_id|correlation_id)=([0-9a-fA-F-]{8,36})\b")


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str = "lq") -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": self.process,
            "msg": msg,
        }
        for key, value in _INLINE.findall(msg):
            out.setdefault(key, value)
        out.update(logctx.current())
        for key in ("vm_id", "host_id", "task_id", "correlation_id"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure(level: str = "INFO", as_json: bool = False, process: str = "lq") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter(process))
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s %(levelname)-7s {process} %(name)s: %(message)s", "%H:%M:%S"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("nats").setLevel(logging.WARNING)
