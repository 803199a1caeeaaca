"""Who may do what on NATS: the identities of LimiQuantix processes and their permissions.

With ``nats_auth = "embedded"`` the nats-server that LimiQuantix runs has authorization on,
with nkey users only (the server holds public keys, never a secret):

- the **service** user (controlplane, projector, CLI tools): everything;
- the **enrolment** user (the join credential an agent needs once): may only request on
  ``lq.enroll`` and read its replies;
- one user **per enrolled host**, whose key the agent generates itself and presents at
  enrolment (with a signature proving it holds the seed): it may consume only its own
  order consumer, publish only its own reports, metrics, heartbeat and HA lease, answer the
  requests made to it, and read only replies sent to its own inbox prefix. Every subject
  a host speaks or hears names it (``lq.host.<id>.…``, ``events.subjects``), so no
  permission of one host reaches another's console sessions, uploads or reports.

The controlplane renders the users into an include file of the server's configuration
(``<data dir>/nats/auth.conf``) and makes the server reload it (SIGHUP). This module is
the pure part: key files, proofs, permissions and the rendered configuration; it imports
no NATS client. docs/security.md explains the design and its limits.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import nacl.exceptions
import nacl.signing
import nkeys  # type: ignore[import-untyped]

from events import subjects
from events.reports import EnrollRequest
from events.settings import Settings

OFF = "off"
AUTO = "auto"
EMBEDDED = "embedded"
JWT = "jwt"
"""Operator mode: host users are JWTs the controlplane signs with the account key
(``events.natsjwt``); the servers need no reload and are configured outside LimiQuantix."""
MODES = (AUTO, OFF, EMBEDDED, JWT)

SERVICE_SEED = "nats-service.nk"
ENROLL_SEED = "nats-enroll.nk"
HOST_SEED = "nats-host.nk"
HOST_CREDS = "nats-host.creds"
AUTH_CONF = "auth.conf"
PID_FILE = "nats.pid"
HOST_KEY_PREFIX = "nats-host."
"""``lq_credentials`` key ``nats-host.<host id>`` → the host's nkey public key."""
ENROLL_INBOX = "_INBOX_ENROLL"
HOST_INBOX = "_INBOX_HOST"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ClientAuth(msgspec.Struct, frozen=True, kw_only=True):
    """How one connection authenticates: its nkey seed file (or, in JWT mode, its
    ``.creds`` file: user JWT and seed) and its reply-inbox prefix."""

    seed_file: str = ""
    creds_file: str = ""
    inbox_prefix: str = "_INBOX"


def enabled(settings: Settings) -> bool:
    """Whether LimiQuantix manages the server's authorization (per-host users)."""
    return settings.nats_auth == EMBEDDED


def jwt_mode(settings: Settings) -> bool:
    """Whether hosts get user JWTs signed by the account key (docs/security.md)."""
    return settings.nats_auth == JWT


def per_host(settings: Settings) -> bool:
    """Whether each enrolled host has its own NATS user (embedded or JWT mode)."""
    return enabled(settings) or jwt_mode(settings)


def nats_dir(settings: Settings) -> Path:
    """The embedded nats-server's directory (store, configuration, pid file)."""
    return settings.data_path / "nats"


def service_auth(settings: Settings) -> ClientAuth | None:
    """The identity of a service process (controlplane, projector, CLI tools), or None.

    ``nats_nkey_seed_file`` when set; otherwise the data dir's service key when auth is
    ``embedded`` — or ``auto`` and the key exists (a CLI command beside ``lq up``)."""
    if jwt_mode(settings):
        return ClientAuth(creds_file=settings.nats_creds_file)
    if settings.nats_nkey_seed_file:
        return ClientAuth(seed_file=settings.nats_nkey_seed_file)
    seed = settings.data_path / SERVICE_SEED
    if enabled(settings) or (settings.nats_auth == AUTO and seed.is_file()):
        return ClientAuth(seed_file=str(seed))
    return None


def enroll_auth(settings: Settings) -> ClientAuth:
    """The join credential an agent enrols with."""
    if jwt_mode(settings):
        return ClientAuth(creds_file=settings.nats_creds_file, inbox_prefix=ENROLL_INBOX)
    seed = settings.nats_enroll_seed_file or str(settings.data_path / ENROLL_SEED)
    return ClientAuth(seed_file=seed, inbox_prefix=ENROLL_INBOX)


def host_auth(seed_file: str | Path, host_id: str, creds_file: str | Path = "") -> ClientAuth:
    """A host's own identity: its seed, or in JWT mode its ``.creds`` file."""
    if creds_file:
        return ClientAuth(creds_file=str(creds_file), inbox_prefix=host_inbox(host_id))
    return ClientAuth(seed_file=str(seed_file), inbox_prefix=host_inbox(host_id))


def host_inbox(host_id: str) -> str:
    return f"{HOST_INBOX}.{host_id}"


def valid_host_id(host_id: str) -> bool:
    """A host id is one subject token (no dots or wildcards) before it enters permissions."""
    return bool(_TOKEN.match(host_id))


# -- keys ---------------------------------------------------------------------------------


def create_seed(path: str | Path) -> str:
    """Create a user nkey seed file (mode 0600) unless it exists; answer its public key."""
    p = Path(path)
    if not p.is_file():
        p.parent.mkdir(parents=True, exist_ok=True)
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return public_key(p)
        with os.fdopen(fd, "wb") as fh:
            fh.write(bytes(seed) + b"\n")
    return public_key(p)


def _keypair(path: str | Path) -> Any:
    return nkeys.from_seed(bytearray(Path(path).read_bytes().strip()))


def public_key(seed_file: str | Path) -> str:
    return bytes(_keypair(seed_file).public_key).decode()


def sign(seed_file: str | Path, data: bytes) -> str:
    return base64.b64encode(bytes(_keypair(seed_file).sign(data))).decode()


def verify(public: str, data: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) was made over ``data`` by the seed of ``public``."""
    try:
        raw = base64.b32decode(public + "=" * (-len(public) % 8))
        if len(raw) != 35 or not public.startswith("U"):
            return False
        nacl.signing.VerifyKey(raw[1:33]).verify(data, base64.b64decode(signature))
        return True
    except (ValueError, nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError):
        return False


def enroll_proof_payload(req: EnrollRequest) -> bytes:
    """What an agent signs to prove it holds the key it presents at enrolment."""
    fields = [req.host_id, req.name, req.uri, req.cpus, req.memory_mib, req.nkey]
    return json.dumps(["lq-enroll/v1", *fields]).encode()


def prove(req: EnrollRequest, seed_file: str | Path) -> EnrollRequest:
    """``req`` with the key of ``seed_file`` and the proof that the sender holds it."""
    req = msgspec.structs.replace(req, nkey=public_key(seed_file), nkey_proof=None)
    return msgspec.structs.replace(req, nkey_proof=sign(seed_file, enroll_proof_payload(req)))


# -- permissions and the server's configuration --------------------------------------------


def host_permissions(host_id: str) -> dict[str, Any]:
    """What host ``host_id``'s user may publish and subscribe (nats-server permissions)."""
    if not valid_host_id(host_id):
        raise ValueError(f"not a host id: {host_id!r}")
    consumer = f"{subjects.ORDERS_STREAM}.agent-{host_id}"
    hb, lease, prot = (
        subjects.HEARTBEAT_BUCKET,
        subjects.HOST_LEASE_BUCKET,
        subjects.HA_PROTECTION_BUCKET,
    )
    publish = [
        subjects.ENROLL,
        subjects.report_subject(host_id),
        subjects.metrics_subject(host_id),
        f"$KV.{hb}.{host_id}",
        f"$KV.{lease}.{host_id}",
        *(f"$JS.API.STREAM.INFO.KV_{b}" for b in (hb, lease, prot)),
        # reads of its lease and protected set: the buckets have no direct get, and a
        # message get names its key in the body, so any key of these two can be read
        # (host ids and VM ids, no secret); with direct get only its own key could be
        f"$JS.API.STREAM.MSG.GET.KV_{lease}",
        f"$JS.API.STREAM.MSG.GET.KV_{prot}",
        f"$JS.API.DIRECT.GET.KV_{lease}.$KV.{lease}.{host_id}",
        f"$JS.API.DIRECT.GET.KV_{prot}.$KV.{prot}.{host_id}",
        f"$JS.API.CONSUMER.INFO.{consumer}",
        f"$JS.API.CONSUMER.MSG.NEXT.{consumer}",
        f"$JS.ACK.{consumer}.>",
        subjects.storage_report_subject(host_id),
        subjects.net_hello_subject(host_id),
        # its own console sessions only: the session id is the one wildcard token
        subjects.console_stream_subject(host_id, "*", "out"),
        subjects.console_stream_subject(host_id, "*", "close"),
    ]
    subscribe = [
        f"{host_inbox(host_id)}.>",
        subjects.console_subject(host_id),
        subjects.storage_subject(host_id),
        subjects.net_subject(host_id),
        subjects.console_stream_subject(host_id, "*", "in"),
        subjects.console_stream_subject(host_id, "*", "close"),
        subjects.upload_subject(host_id, "*"),
    ]
    return {
        "publish": {"allow": publish},
        "subscribe": {"allow": subscribe},
        "allow_responses": True,
    }


def enroll_permissions() -> dict[str, Any]:
    return {
        "publish": {"allow": [subjects.ENROLL]},
        "subscribe": {"allow": [f"{ENROLL_INBOX}.>"]},
    }


def render(service_key: str, enroll_key: str, hosts: Mapping[str, str]) -> str:
    """The ``authorization`` block: service and enrolment users, then one user per host.

    nats-server's configuration format accepts JSON values, so every value is JSON-quoted
    (a key or subject can never break out of its string)."""
    users: list[dict[str, Any]] = [
        {"nkey": service_key},
        {"nkey": enroll_key, "permissions": enroll_permissions()},
    ]
    seen = {service_key, enroll_key}
    for host_id in sorted(hosts):
        key = hosts[host_id]
        if key in seen or not valid_host_id(host_id):
            continue  # never two users with one key; ids were validated at enrolment
        seen.add(key)
        users.append({"nkey": key, "permissions": host_permissions(host_id)})
    lines = ["# Written by LimiQuantix (events.natsauth); changes are overwritten.", ""]
    lines.append("authorization {")
    lines.append("  users: [")
    lines += [f"    {json.dumps(u, sort_keys=True)}" for u in users]
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_conf(path: str | Path, text: str) -> None:
    """Replace the include file atomically (mode 0600): a reload never reads half of it."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, p)


def bootstrap(settings: Settings) -> Path:
    """Create the service and enrolment keys and, when absent, the include file that
    admits them (hosts are added by the controlplane). Answers the include file's path."""
    service = create_seed(settings.nats_nkey_seed_file or settings.data_path / SERVICE_SEED)
    enroll = create_seed(enroll_auth(settings).seed_file)
    conf = nats_dir(settings) / AUTH_CONF
    conf.parent.mkdir(parents=True, exist_ok=True)
    if not conf.is_file():
        write_conf(conf, render(service, enroll, {}))
    return conf


def reload_server(pid_file: str | Path) -> bool:
    """Ask the nats-server whose pid is in ``pid_file`` to reload its configuration."""
    try:
        pid = int(Path(pid_file).read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return False
    return True
