"""The fleet settings in effect, read from the aggregate cache: one accessor for consumers.

A consumer that must honour a change made at runtime asks here instead of reading its
static ``Settings``: ``effective`` is the process settings with every changed fleet key
replaced (cached per aggregate version, so a hot path pays a dictionary lookup), and
``value`` one key, including the keys that have no process setting of their own
(``default_shutdown_timeout_s``, ``default_pool_id``, ``default_network_id``). Anything
holding the controlplane's repository can build one: ``Fleet(handler.repo, settings)``.
Which consumers read it, and which still read the static value, is in docs/settings.md.
"""

from __future__ import annotations

from typing import Any

import msgspec

from controlplane.domain import fleet_settings as fs
from controlplane.repository import Repository
from events.fleet_settings import Value
from events.settings import Settings


class Fleet:
    """Current fleet settings of one controlplane (its repository) over its process settings."""

    def __init__(self, repo: Repository, settings: Settings) -> None:
        self.repo = repo
        self.static = settings
        self._cached: tuple[int, Settings] | None = None

    def state(self) -> tuple[fs.FleetSettings | None, int]:
        state, version = self.repo.get(fs.KIND, fs.FLEET_ID)
        return state, version

    def value(self, key: str) -> Value:
        """Key ``key`` of the catalogue as it is now (``KeyError`` if there is no such key)."""
        return fs.current(self.state()[0], fs.BY_KEY[key], self.static)

    def effective(self) -> Settings:
        """The process settings with every changed fleet setting that has one replaced."""
        state, version = self.state()
        if self._cached is not None and self._cached[0] == version:
            return self._cached[1]
        changes: dict[str, Any] = {}
        if state is not None:
            for key, new in state.values.items():
                spec = fs.BY_KEY.get(key)
                if spec is not None and spec.static is not None:
                    changes[spec.static] = new
        settings = msgspec.structs.replace(self.static, **changes) if changes else self.static
        self._cached = (version, settings)
        return settings
