"""Which clusters a request touches, so cluster-scoped role bindings can be enforced.

A role binding scoped to ``cluster:<id>`` grants its permissions on that cluster's
resources only: the cluster itself (its settings, resource pools and DRS
recommendations), its hosts, the VMs on its hosts (or, before they run, pinned to one of
its hosts or placed into one of its resource pools), the tasks and affinity rules of
those, and join tokens that enrol hosts into it. The auth middleware asks this module,
from the controlplane's aggregate cache (``Repository``, no database round trip), which
clusters a request acts on: the resource its path names and every host, VM, cluster or
resource pool its JSON body names (a migration's destination, a host moved into a
cluster, a new VM's pinned host or pool).

The answer is a set of cluster ids, with ``None`` standing for "something outside every
cluster, unknown, or the whole fleet" (a list, a VM not placed yet, a network). A caller
without the permission globally is allowed only when the set is non-empty, holds no
``None`` and each cluster grants the permission (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from controlplane.repository import Repository

NOWHERE: None = None
"""The member of a scope set that only a global binding covers."""

Scope = set[str | None]

_BODY_KEYS = ("host_id", "vm_id", "cluster_id", "resource_pool_id", "template_id")
_BODY_LISTS = ("host_ids", "vm_ids")


class Resolver:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    # -- one resource -> its cluster -----------------------------------------------------

    def host(self, host_id: str) -> str | None:
        host = self.repo.host(host_id)
        return host.cluster_id if host is not None else None

    def pool(self, pool_id: str) -> str | None:
        for cluster in self.repo.all("cluster"):
            if not cluster.deleted and pool_id in cluster.pools:
                return str(cluster.cluster_id)
        return None

    def cluster(self, cluster_id: str) -> str | None:
        state = self.repo.get("cluster", cluster_id)[0]
        return cluster_id if state is not None and not state.deleted else None

    def vm(self, vm_id: str) -> str | None:
        """The cluster of the VM's host, else of its pinned host, else of its pool."""
        vm = self.repo.vm(vm_id)
        if vm is None:
            return None
        if vm.host_id:
            return self.host(vm.host_id)
        if vm.pinned_host_id:
            return self.host(vm.pinned_host_id)
        if vm.resource_pool_id:
            return self.pool(vm.resource_pool_id)
        return None

    def task(self, task_id: str) -> str | None:
        target = self.repo.task_target(task_id)
        if target is None:
            return None
        kind, ident = target
        if kind == "vm":
            return self.vm(ident)
        if kind == "host":
            return self.host(ident)
        return None

    def affinity(self, rule_id: str) -> Scope:
        rule = self.repo.get("affinity", rule_id)[0]
        if rule is None:
            return {NOWHERE}
        return {self.vm(v) for v in rule.vm_ids} | {self.host(h) for h in rule.host_ids}

    def join_token(self, token_id: str) -> str | None:
        token = self.repo.get("join_token", token_id)[0]
        return self.cluster(token.cluster_id) if token is not None and token.cluster_id else None

    def recommendation(self, rec_id: str) -> str | None:
        rec = self.repo.get("drs", rec_id)[0]
        return str(rec.cluster_id) if rec is not None and rec.cluster_id else None

    # -- a request -----------------------------------------------------------------------

    def path(self, path: str, match: dict[str, str]) -> Scope:
        """The clusters of the resource a ``/api/v1/...`` path names (empty: none named)."""
        parts = path.strip("/").split("/")
        if len(parts) < 4 or parts[:2] != ["api", "v1"]:
            return set()
        collection, ident = parts[2], parts[3]
        match collection:
            case "vms":
                return {self.vm(match.get("vm_id") or match.get("id") or ident)}
            case "hosts":
                return {self.host(match.get("host_id") or match.get("id") or ident)}
            case "clusters":
                return {self.cluster(match.get("cluster_id") or match.get("id") or ident)}
            case "tasks":
                return {self.task(match.get("task_id") or match.get("id") or ident)}
            case "join-tokens":
                return {self.join_token(match.get("token_id") or ident)}
            case "affinity-rules":
                return self.affinity(match.get("rule_id") or match.get("id") or ident)
            case "drs" if len(parts) >= 5 and parts[3] == "recommendations":
                return {self.recommendation(match.get("rec_id") or match.get("id") or parts[4])}
        return {NOWHERE}

    def body(self, raw: bytes) -> Scope:
        """The clusters of every host, VM, cluster or resource pool a JSON body names."""
        if not raw.strip():
            return set()
        try:
            doc = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return set()  # the handler answers 400; nothing is touched
        if not isinstance(doc, dict):
            return set()
        out: Scope = set()
        for key in _BODY_KEYS:
            value = doc.get(key)
            if isinstance(value, str) and value:
                out.add(self._named(key, value))
        for key in _BODY_LISTS:
            values = doc.get(key)
            if isinstance(values, list):
                out |= {self._named(key[:-1], v) if isinstance(v, str) else NOWHERE for v in values}
        return out

    def _named(self, key: str, value: str) -> str | None:
        match key:
            case "host_id":
                return self.host(value)
            case "vm_id" | "template_id":
                return self.vm(value)
            case "cluster_id":
                return self.cluster(value)
            case "resource_pool_id":
                return self.pool(value)
        return NOWHERE


def granted(scope: Scope, clusters: Iterable[str]) -> bool:
    """Whether ``scope`` is non-empty and lies wholly inside ``clusters``."""
    allowed = set(clusters)
    return bool(scope) and all(c is not None and c in allowed for c in scope)


def clusters_granting(scoped: dict[str, frozenset[str]], permission: str) -> list[str]:
    return [c for c, perms in scoped.items() if permission in perms]
