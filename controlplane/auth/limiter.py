"""Brute-force protection for password logins: failures counted per user and per address.

After ``auth_user_max_failures`` failures for one user name (or
``auth_address_max_failures`` from one address) within ``auth_failure_window_s``, further
attempts are refused for ``auth_lockout_s`` with ``429`` and ``Retry-After``, whatever the
password — a correct one included, so a locked account cannot be probed. A success clears
the user's count.

The counts are shared by every controlplane replica: they live in the NATS KV bucket
``lq_login_failures`` (one key per user name and per address, written with
compare-and-set, so two replicas counting at once both count; the bucket forgets a key two
days after its last write). A key is an HMAC of the name under the API's signing key,
which every replica shares: people type passwords into the user name field, and the
bucket must not hold them, nor a plain hash of them that could be guessed offline.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable

import msgspec

from events.bus import Bus
from events.settings import Settings

log = logging.getLogger(__name__)

ATTEMPTS = 16  # compare-and-set rounds before a count is given up (logged)


class Track(msgspec.Struct, kw_only=True):
    failures: list[float] = []  # wall-clock times (every replica reads them)
    locked_until: float = 0.0


_DECODER = msgspec.json.Decoder(Track)


class Limiter:
    """``settings`` is asked on every failure, so thresholds changed at runtime (fleet
    settings) apply to the next failed login."""

    def __init__(self, settings: Settings | Callable[[], Settings], bus: Bus, key: bytes) -> None:
        self._settings = settings if callable(settings) else (lambda: settings)
        self._bus = bus
        self._key = hashlib.sha256(b"lq-login-failures\0" + key).digest()

    def _name(self, kind: str, value: str) -> str:
        mac = hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}.{mac[:40]}"

    def _keys(self, user: str, address: str) -> list[tuple[str, str]]:
        return [
            ("user", self._name("user", user.lower())),
            ("address", self._name("address", address)),
        ]

    async def _read(self, key: str) -> tuple[Track, int]:
        raw, revision = await self._bus.login_failures(key)
        if raw is None:
            return Track(), revision
        try:
            return _DECODER.decode(raw), revision
        except msgspec.DecodeError:
            return Track(), revision

    async def retry_after(self, user: str, address: str) -> float:
        """Seconds until a login for ``user`` from ``address`` may be tried; 0 = now."""
        now = time.time()
        waits = [
            (await self._read(key))[0].locked_until - now for _, key in self._keys(user, address)
        ]
        return max([0.0, *waits])

    async def failed(self, user: str, address: str) -> list[str]:
        """Count a failure; returns which of ``user``/``address`` just got locked."""
        s = self._settings()
        limits = {"user": s.auth_user_max_failures, "address": s.auth_address_max_failures}
        locked = []
        for kind, key in self._keys(user, address):
            if await self._count(key, limits[kind], s.auth_failure_window_s, s.auth_lockout_s):
                locked.append(kind)
        return locked

    async def _count(self, key: str, limit: int, window: float, lockout: float) -> bool:
        for _ in range(ATTEMPTS):
            track, revision = await self._read(key)
            now = time.time()
            track.failures = [t for t in track.failures if t >= now - window][-limit:]
            track.failures.append(now)
            locks = len(track.failures) >= limit and track.locked_until <= now
            if locks:
                track.locked_until = now + lockout
                track.failures = []
            if await self._bus.put_login_failures(key, msgspec.json.encode(track), revision):
                return locks
        log.warning("a failed sign-in was not counted: the counter kept changing")
        return False

    async def succeeded(self, user: str) -> None:
        key = self._keys(user, "")[0][1]
        for _ in range(ATTEMPTS):
            track, revision = await self._read(key)
            if not track.failures:
                return
            track.failures = []
            if await self._bus.put_login_failures(key, msgspec.json.encode(track), revision):
                return
