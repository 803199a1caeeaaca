"""Verifiers of secrets: argon2 password hashes and API-token digests, outside the event log.

Why not in events: the event stream is immutable (deny delete and purge) and readable by
every projection and, through ``/api/v1/events``, by anyone with ``event.read``. A hash in
it could never be removed and would invite offline guessing. So events say only *that* a
password changed; the hash lives in the NATS KV bucket ``lq_credentials`` (one key per
user, history 1), shared by all controlplane replicas. Losing the bucket loses passwords,
not identities: an admin sets new ones (docs/security.md).

Argon2 is deliberately slow (~50 ms of CPU), so hashing and verifying run in a worker
thread. API tokens carry 256 random bits, so a SHA-256 digest suffices for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from events.bus import Bus

_hasher = PasswordHasher()
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))

TOKEN_PREFIX = "lqt_"


def _password_key(user_id: str) -> str:
    return f"password.{user_id}"


def _token_key(token_id: str) -> str:
    return f"token.{token_id}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str, token_id: str) -> str:
    """A fresh secret naming its id: ``<prefix><id hex>_<43 random chars>`` (API tokens
    ``lqt_``, host join tokens ``lqj_``), so a lookup needs no scan."""
    return f"{prefix}{token_id.replace('-', '')}_{secrets.token_urlsafe(32)}"


def id_in_secret(prefix: str, secret: str) -> str | None:
    """The id inside a secret made by ``new_secret`` with ``prefix``, or None when it is
    not one."""
    if not secret.startswith(prefix):
        return None
    ident, _, rest = secret[len(prefix) :].partition("_")
    if len(ident) != 32 or not rest:
        return None
    try:
        int(ident, 16)
    except ValueError:
        return None
    return f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:]}"


def new_token(token_id: str) -> str:
    """A fresh API token string for ``token_id``: ``lqt_<id hex>_<43 random chars>``."""
    return new_secret(TOKEN_PREFIX, token_id)


def token_id_of(token: str) -> str | None:
    """The token id inside an API token string, or None when it is not one."""
    return id_in_secret(TOKEN_PREFIX, token)


class Credentials:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    @property
    def bus(self) -> Bus:
        return self._bus

    async def set_password(self, user_id: str, password: str, *, only_new: bool = False) -> bool:
        hashed = await asyncio.to_thread(_hasher.hash, password)
        return await self._bus.put_credential(
            _password_key(user_id), hashed.encode(), only_new=only_new
        )

    async def has_password(self, user_id: str) -> bool:
        return await self._bus.credential(_password_key(user_id)) is not None

    async def check_password(self, user_id: str | None, password: str) -> bool:
        """Whether ``password`` is the user's; a missing user or hash costs the same time."""
        stored = await self._bus.credential(_password_key(user_id)) if user_id else None
        hashed = stored.decode() if stored else _DUMMY
        try:
            ok = await asyncio.to_thread(_hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            return False
        return bool(ok) and stored is not None

    async def forget_password(self, user_id: str) -> None:
        await self._bus.delete_credential(_password_key(user_id))

    async def set_token(self, token_id: str, token: str) -> None:
        await self._bus.put_credential(_token_key(token_id), digest(token).encode())

    async def check_token(self, token_id: str, token: str) -> bool:
        stored = await self._bus.credential(_token_key(token_id))
        return stored is not None and hmac.compare_digest(stored.decode(), digest(token))
