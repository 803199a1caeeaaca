"""A read-only repository over prepared aggregates: what ``Drs`` and the placement code
read of the controlplane's aggregate cache, without NATS (the DRS tests and
``bench/drs.py`` build their fleets in it)."""

from __future__ import annotations

from typing import Any

from controlplane.domain import host as hd
from controlplane.domain import vm as vd


class Inventory:
    """The repository's read interface over ``states`` (kind → id → state)."""

    def __init__(self, states: dict[str, dict[str, Any]]) -> None:
        self.states = states

    def all(self, kind: str) -> list[Any]:
        return list(self.states.get(kind, {}).values())

    def get(self, kind: str, ident: str) -> tuple[Any, int]:
        return self.states.get(kind, {}).get(ident), 0

    def vm(self, vm_id: str) -> vd.Vm | None:
        return self.states["vm"].get(vm_id)

    def host(self, host_id: str) -> hd.Host | None:
        return self.states["host"].get(host_id)
