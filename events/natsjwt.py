"""NATS decentralized authentication: operator, account and per-host user JWTs.

Why: a NATS cluster or a managed NATS cannot be given a rewritten ``auth.conf`` and a
SIGHUP per enrolled host (``events.natsauth``'s embedded mode). In operator mode the
servers trust an operator key; the operator signs an account; the account's key signs one
user JWT per host, at any time, and the servers accept it at the next connection with no
reload — they verify the chain themselves. The JWT's permissions are exactly
``events.natsauth.host_permissions`` (the same subjects as the embedded mode).

The format is nats-io/jwt v2: ``base64url(header).base64url(claims).base64url(sig)``,
header ``{"typ": "JWT", "alg": "ed25519-nkey"}``, the signature an ed25519 signature of
the issuer's nkey over the first two parts, ``jti`` a base32 SHA-256 of the claims.
Proven against a real nats-server in operator mode by ``tests/auth/test_nats_jwt.py``;
docs/security.md says what LimiQuantix does not yet do with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import nkeys  # type: ignore[import-untyped]

_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
UNLIMITED: dict[str, Any] = {
    "subs": -1,
    "data": -1,
    "payload": -1,
    "imports": -1,
    "exports": -1,
    "wildcards": True,
    "conn": -1,
    "leaf": -1,
    "mem_storage": -1,  # JetStream enabled for the account, without limits
    "disk_storage": -1,
    "streams": -1,
    "consumer": -1,
}
_JS = ("mem_storage", "disk_storage", "streams", "consumer")


def new_seed(prefix: int) -> bytes:
    """A fresh nkey seed (``nkeys.PREFIX_BYTE_OPERATOR|ACCOUNT|USER``)."""
    return bytes(nkeys.encode_seed(os.urandom(32), prefix))


def public_key(seed: bytes) -> str:
    kp = nkeys.from_seed(bytearray(seed))
    try:
        return str(kp.public_key.decode())
    finally:
        kp.wipe()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode(
    issuer_seed: bytes, subject: str, name: str, nats: dict[str, Any], *, ttl_s: float | None = None
) -> str:
    """A v2 JWT about ``subject`` signed by ``issuer_seed``."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "jti": "",
        "iat": now,
        "iss": public_key(issuer_seed),
        "name": name,
        "sub": subject,
        "nats": {**nats, "version": 2},
    }
    if ttl_s is not None:
        claims["exp"] = now + int(ttl_s)
    digest = hashlib.sha256(json.dumps(claims, separators=(",", ":")).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    kp = nkeys.from_seed(bytearray(issuer_seed))
    try:
        signature = kp.sign(f"{head}.{body}".encode())
    finally:
        kp.wipe()
    return f"{head}.{body}.{_b64(signature)}"


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (for display and tests)."""
    body = token.split(".")[1]
    out: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return out


def operator_jwt(operator_seed: bytes, name: str) -> str:
    """The self-signed operator JWT the servers are configured with (``operator:``)."""
    return encode(operator_seed, public_key(operator_seed), name, {"type": "operator"})


def account_jwt(
    operator_seed: bytes, account_public: str, name: str, *, jetstream: bool = True
) -> str:
    """An account signed by the operator, without limits; with JetStream unless it is the
    system account (which may not have it)."""
    limits = UNLIMITED if jetstream else {k: v for k, v in UNLIMITED.items() if k not in _JS}
    nats = {"type": "account", "limits": limits, "default_permissions": {"pub": {}, "sub": {}}}
    return encode(operator_seed, account_public, name, nats)


def user_jwt(
    account_seed: bytes,
    user_public: str,
    name: str,
    permissions: dict[str, Any] | None = None,
    *,
    ttl_s: float | None = None,
) -> str:
    """A user of the account; ``permissions`` in nats-server form (``publish``/``subscribe``
    ``allow`` lists and ``allow_responses``, as ``events.natsauth.host_permissions``
    gives them), or None for no restriction (a service user)."""
    nats: dict[str, Any] = {"type": "user", "subs": -1, "data": -1, "payload": -1}
    if permissions is not None:
        nats["pub"] = {"allow": list(permissions.get("publish", {}).get("allow", []))}
        nats["sub"] = {"allow": list(permissions.get("subscribe", {}).get("allow", []))}
        if permissions.get("allow_responses"):
            nats["resp"] = {"max": 1, "ttl": 0}
    return encode(account_seed, user_public, name, nats, ttl_s=ttl_s)


def creds(user_jwt_text: str, user_seed: bytes) -> str:
    """A ``.creds`` file's text (what ``nats.connect(user_credentials=...)`` reads)."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt_text}\n"
        "------END NATS USER JWT------\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{user_seed.decode()}\n"
        "------END USER NKEY SEED------\n"
    )


SERVER_CONF = "nats-operator.conf"
ACCOUNT_SEED = "nats-account.nk"
SERVICE_CREDS = "nats-service.creds"
JOIN_CREDS = "nats-join.creds"


def _secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def bootstrap(directory: str | Path, enroll_permissions: dict[str, Any]) -> Path:
    """Make a new operator, its system account and the LimiQuantix account in
    ``directory`` (which must not hold them yet); answers the server's include file.

    Written (secrets mode 0600): ``nats-operator.conf`` (``operator``, ``system_account``,
    ``resolver: MEMORY`` with both accounts preloaded: include it in every server's
    configuration), ``nats-account.nk`` (the account's seed: the controlplane signs host
    JWTs with it, ``nats_account_seed_file``), ``nats-service.creds`` (an unrestricted
    user for the controlplane, projector and CLI, ``nats_creds_file``) and
    ``nats-join.creds`` (the agents' join credential: ``lq.enroll`` only). The operator's
    and system account's seeds are kept beside them for later changes."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    operator = new_seed(nkeys.PREFIX_BYTE_OPERATOR)
    account = new_seed(nkeys.PREFIX_BYTE_ACCOUNT)
    system = new_seed(nkeys.PREFIX_BYTE_ACCOUNT)
    _secret(d / "nats-operator.nk", operator + b"\n")
    _secret(d / "nats-system.nk", system + b"\n")
    _secret(d / ACCOUNT_SEED, account + b"\n")
    acc, sys_ = public_key(account), public_key(system)
    conf = (
        "# Written by LimiQuantix (events.natsjwt): operator mode, accounts preloaded.\n"
        f"operator: {json.dumps(operator_jwt(operator, 'limiquantix'))}\n"
        f"system_account: {sys_}\n"
        "resolver: MEMORY\n"
        "resolver_preload: {\n"
        f"  {acc}: {json.dumps(account_jwt(operator, acc, 'LQ'))}\n"
        f"  {sys_}: {json.dumps(account_jwt(operator, sys_, 'SYS', jetstream=False))}\n"
        "}\n"
    )
    _secret(d / SERVER_CONF, conf.encode())
    for name, perms in ((SERVICE_CREDS, None), (JOIN_CREDS, enroll_permissions)):
        seed = new_seed(nkeys.PREFIX_BYTE_USER)
        token = user_jwt(account, public_key(seed), name.removesuffix(".creds"), perms)
        _secret(d / name, creds(token, seed).encode())
    return d / SERVER_CONF
