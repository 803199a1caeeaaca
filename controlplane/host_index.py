"""Hosts kept in placement order, so that a decision looks at the best hosts first.

Ranking every host for every placement costs time in proportion to the fleet (10,000
hosts: tens of milliseconds a decision). Most of a host's score does not depend on the VM
being placed: its allocated share (``spread`` prefers the emptiest host, ``pack`` the
fullest) and its measured load (the metrics weigher). That part is the host's **key**,
kept here in a sorted list and recomputed only for hosts that changed (a reservation, a
state, a new metrics sample). Placement (``controlplane.placement.choose``) walks the
list from the best key down, runs the filters on each host it meets and stops once it
holds enough accepted hosts and no host further down could score better (the VM-dependent
part of a score is bounded, see ``Bounds``).

A host's load figure is the latest fresh metrics sample (``Figure``); a host without one
is weighed by its allocation instead. Pure: no I/O, no clock reads (``now`` comes in).
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from controlplane.domain.host import Host


@dataclass(frozen=True, slots=True)
class Figure:
    """A host's measured load from its latest metrics sample (percentages 0-100)."""

    cpu_pct: float | None
    mem_pct: float
    received: float  # monotonic time the sample arrived

    @property
    def busy(self) -> float:
        """The busy share 0..1: the mean of CPU and memory use (memory alone without CPU)."""
        parts = [self.mem_pct] if self.cpu_pct is None else [self.cpu_pct, self.mem_pct]
        return min(1.0, max(0.0, sum(parts) / len(parts) / 100))


def allocated(h: Host) -> float:
    """The host's allocated share 0..1: the mean of its reserved vCPU and memory fractions."""
    return 0.5 * (
        h.allocated_memory_mib / max(h.memory_capacity_mib, 1)
        + h.allocated_vcpus / max(h.vcpu_capacity, 1)
    )


def key_of(h: Host, figure: Figure | None, pack: bool, weight: float) -> float:
    """The VM-independent part of ``h``'s placement score: emptiness (``spread``) or
    fullness (``pack``) by allocation, plus ``weight`` x how idle it is (measured, or
    its allocation when there is no fresh sample)."""
    used = allocated(h)
    busy = figure.busy if figure is not None else used
    return (used if pack else 1.0 - used) + weight * (1.0 - busy)


def ask_term(h: Host, vcpus: int, memory_mib: int, pack: bool) -> float:
    """What placing ``vcpus``/``memory_mib`` adds to (``pack``) or takes from (``spread``)
    the score of ``h``: half of each fraction of capacity it takes."""
    share = 0.5 * (memory_mib / max(h.memory_capacity_mib, 1) + vcpus / max(h.vcpu_capacity, 1))
    return share if pack else -share


@dataclass(frozen=True, slots=True)
class Bounds:
    """The smallest and largest capacities in the index: bound ``ask_term`` of any host."""

    min_vcpus: int
    max_vcpus: int
    min_memory_mib: int
    max_memory_mib: int

    def best_ask_term(self, vcpus: int, memory_mib: int, pack: bool) -> float:
        """The largest ``ask_term`` any host of the index can have."""
        if pack:
            return 0.5 * (memory_mib / max(self.min_memory_mib, 1) + vcpus / max(self.min_vcpus, 1))
        return -0.5 * (memory_mib / max(self.max_memory_mib, 1) + vcpus / max(self.max_vcpus, 1))


class HostIndex:
    """Hosts sorted by ``key_of`` (best first) for one strategy and load weight."""

    def __init__(self, strategy: str = "spread", load_weight: float = 0.0) -> None:
        self.pack = strategy == "pack"
        self.weight = load_weight
        self._hosts: dict[str, Host] = {}
        self._figures: dict[str, Figure] = {}
        self._entries: dict[str, tuple[float, str]] = {}
        self._order: list[tuple[float, str]] = []  # (-key, host id), ascending
        self._clusters: dict[str, list[tuple[float, str]]] = {}  # the same, per cluster
        self._bounds: Bounds | None = None

    @property
    def strategy(self) -> str:
        return "pack" if self.pack else "spread"

    def __len__(self) -> int:
        return len(self._hosts)

    def configure(self, strategy: str, load_weight: float) -> None:
        """Switch strategy or weight (re-sorts every host when either changed)."""
        pack = strategy == "pack"
        if pack == self.pack and load_weight == self.weight:
            return
        self.pack, self.weight = pack, load_weight
        self._entries.clear()
        self._order = []
        self._clusters = {}
        for h in list(self._hosts.values()):
            self.put(h, self._figures.get(h.host_id))

    def put(self, h: Host, figure: Figure | None) -> None:
        """Add or re-key one host."""
        old = self._hosts.get(h.host_id)
        if old is None or (old.vcpu_capacity, old.memory_capacity_mib) != (
            h.vcpu_capacity,
            h.memory_capacity_mib,
        ):
            self._bounds = None
        self._remove_entry(h.host_id)
        self._hosts[h.host_id] = h  # after the removal: it finds the old cluster's list
        if figure is None:
            self._figures.pop(h.host_id, None)
        else:
            self._figures[h.host_id] = figure
        entry = (-key_of(h, figure, self.pack, self.weight), h.host_id)
        self._entries[h.host_id] = entry
        bisect.insort(self._order, entry)
        if h.cluster_id is not None:
            bisect.insort(self._clusters.setdefault(h.cluster_id, []), entry)

    def drop(self, host_id: str) -> None:
        self._remove_entry(host_id)
        self._figures.pop(host_id, None)
        if self._hosts.pop(host_id, None) is not None:
            self._bounds = None

    def _remove_entry(self, host_id: str) -> None:
        entry = self._entries.pop(host_id, None)
        if entry is None:
            return
        _discard(self._order, entry)
        old = self._hosts.get(host_id)
        if old is not None and old.cluster_id is not None:
            _discard(self._clusters.get(old.cluster_id, []), entry)

    def sync(
        self, hosts: Collection[Host], figures: Mapping[str, Figure], changed: Iterable[str] = ()
    ) -> None:
        """Bring the index up to ``hosts`` (the current states: a host whose state object
        is not the indexed one is re-keyed, a missing one dropped) and re-key the hosts
        whose load figure ``changed``. ``figures``: the fresh figures by host id."""
        seen = 0
        for h in hosts:
            seen += 1
            if self._hosts.get(h.host_id) is not h:
                self.put(h, figures.get(h.host_id))
        for host_id in changed:
            if (known := self._hosts.get(host_id)) is not None:
                self.put(known, figures.get(host_id))
        if seen != len(self._hosts):  # hosts were removed: rare, so a full pass is fine
            current = {h.host_id for h in hosts}
            for host_id in [i for i in self._hosts if i not in current]:
                self.drop(host_id)

    def get(self, host_id: str) -> Host | None:
        return self._hosts.get(host_id)

    def figure(self, host_id: str) -> Figure | None:
        return self._figures.get(host_id)

    def key(self, host_id: str) -> float:
        return -self._entries[host_id][0]

    def ordered(self, cluster_id: str | None = None) -> Iterator[tuple[float, Host]]:
        """``(key, host)`` from the best key down (ties by host id); only the hosts of
        ``cluster_id`` when given."""
        order = self._order if cluster_id is None else self._clusters.get(cluster_id, [])
        for neg, host_id in order:
            yield -neg, self._hosts[host_id]

    def bounds(self) -> Bounds:
        if self._bounds is None:
            cpus = [h.vcpu_capacity for h in self._hosts.values()] or [1]
            mems = [h.memory_capacity_mib for h in self._hosts.values()] or [1]
            self._bounds = Bounds(min(cpus), max(cpus), min(mems), max(mems))
        return self._bounds


def _discard(order: list[tuple[float, str]], entry: tuple[float, str]) -> None:
    i = bisect.bisect_left(order, entry)
    if i < len(order) and order[i] == entry:
        del order[i]
