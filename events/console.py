"""The console contract: how a browser reaches a VM's serial console or VNC display.

The browser opens an authenticated WebSocket on the controlplane
(``/api/v1/vms/{id}/console/{serial|vnc}``). The controlplane sends ``ConsoleOpen`` to the
VM's host (request/reply on ``lq.host.<id>.console``); the agent opens the connection on
its host (libvirt's console stream for ``serial``, the domain's local VNC socket for
``vnc``) and relays bytes over core NATS: it publishes what the VM sends on
``lq.host.<id>.console.<session>.out`` and writes what arrives on
``lq.host.<id>.console.<session>.in``. Either side publishes on
``lq.host.<id>.console.<session>.close`` to end the session; the agent also ends it after
``idle_timeout_s`` without traffic from the browser side. The relay subjects carry the host
id so that the server lets only that host's NATS user near them (docs/security.md).
"""

from __future__ import annotations

from typing import Literal

import msgspec

ConsoleKind = Literal["serial", "vnc"]
CHUNK_BYTES = 32 * 1024
"""The largest payload one relay message carries."""


class ConsoleOpen(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    vm_id: str
    kind: ConsoleKind
    idle_timeout_s: float = 600.0


class ConsoleOpened(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    error: str = ""


CONSOLE_OPEN_DECODER = msgspec.json.Decoder(ConsoleOpen)
CONSOLE_OPENED_DECODER = msgspec.json.Decoder(ConsoleOpened)
