"""Brute-force protection for password logins: failures counted per user and per address.

After ``auth_user_max_failures`` failures for one user name (or
``auth_address_max_failures`` from one address) within ``auth_failure_window_s``, further
attempts are refused for ``auth_lockout_s`` with ``429`` and ``Retry-After``, whatever the
password — a correct one included, so a locked account cannot be probed. A success clears
the user's count. Counts live in the memory of each controlplane replica: with N replicas
behind a balancer an attacker gets at most N times the budget (docs/security.md).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from events.settings import Settings


@dataclass
class _Track:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class Limiter:
    """``settings`` is asked on every failure, so thresholds changed at runtime (fleet
    settings) apply to the next failed login."""

    def __init__(self, settings: Settings | Callable[[], Settings]) -> None:
        self._settings = settings if callable(settings) else (lambda: settings)
        self._tracks: dict[tuple[str, str], _Track] = {}

    @property
    def _window(self) -> float:
        return self._settings().auth_failure_window_s

    @property
    def _lockout(self) -> float:
        return self._settings().auth_lockout_s

    @property
    def _max(self) -> dict[str, int]:
        s = self._settings()
        return {"user": s.auth_user_max_failures, "address": s.auth_address_max_failures}

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until a login for ``user`` from ``address`` may be tried; 0 = now."""
        now = time.monotonic()
        waits = [
            t.locked_until - now
            for key in (("user", user.lower()), ("address", address))
            if (t := self._tracks.get(key)) is not None
        ]
        return max([0.0, *waits])

    def failed(self, user: str, address: str) -> list[str]:
        """Count a failure; returns which of ``user``/``address`` just got locked."""
        now = time.monotonic()
        locked = []
        for key in (("user", user.lower()), ("address", address)):
            t = self._tracks.setdefault(key, _Track())
            while t.failures and t.failures[0] < now - self._window:
                t.failures.popleft()
            t.failures.append(now)
            if len(t.failures) >= self._max[key[0]] and t.locked_until <= now:
                t.locked_until = now + self._lockout
                t.failures.clear()
                locked.append(key[0])
        if len(self._tracks) > 100_000:  # bound memory under a spray of names
            self._tracks = {k: v for k, v in self._tracks.items() if v.locked_until > now}
        return locked

    def succeeded(self, user: str) -> None:
        self._tracks.pop(("user", user.lower()), None)
