"""A VM's disk and NIC references checked against the aggregate cache (``vm_refs``).

The cache is the controlplane's own ``Repository``, fed the events a pool and a network
would have on the stream; the HTTP side (problems, nothing appended) is covered by
tests/storage/test_storage_api.py and tests/integration/test_networks.py. Here: the
states of a pool or network on the VM's host that refuse, and the address-space claims.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from controlplane.api import vm_refs
from controlplane.domain import address_space as asd
from controlplane.domain.errors import InvalidState
from controlplane.repository import Repository
from events import network as ne
from events import storage as se
from events.base import Event, Meta
from events.codec import wrap
from events.problems import Problem
from events.store import EventStore

META = Meta(actor="user:test", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))


def cache(*batches: tuple[str, str, list[Event]]) -> Repository:
    repo = Repository(cast(EventStore, None))  # never read from: fed below
    for seq, (kind, ident, events) in enumerate(batches, start=1):
        repo.apply(kind, ident, wrap(kind, ident, events, META), seq)
    return repo


def refused(check: object, *args: object) -> Problem:
    with pytest.raises(Problem) as err:
        check(*args)  # type: ignore[operator]
    return err.value


def test_a_pool_must_be_attached_and_active_on_the_vms_host() -> None:
    pool = se.PoolDefined(
        pool_id="p", name="fast", pool_type="dir", params=se.PoolParams(path="/srv/p")
    )
    attached = se.PoolAttachedToHost(pool_id="p", host_id="h1")
    down = se.PoolStateObserved(pool_id="p", host_id="h1", state="inactive", error="no disk")
    repo = cache(("storage_pool", "p", [pool, attached]))
    vm_refs.check_disk(repo, "p", "", "h1")  # pending: being realised there
    other = refused(vm_refs.check_disk, repo, "p", "", "h2")
    assert (other.status, other.slug) == (409, "pool-not-on-host")
    assert "not attached to host h2" in other.detail
    vm_refs.check_disk(repo, "p", "", None)  # unplaced: placement's business
    vm_refs.check_disk(repo, "default", "", "h2")  # the host's own pool: not managed
    repo = cache(("storage_pool", "p", [pool, attached, down]))
    assert (
        "inactive on host h1, where the VM is: no disk"
        in refused(vm_refs.check_disk, repo, "p", "", "h1").detail
    )
    lost = se.PoolStateObserved(pool_id="p", host_id="h1", state="unreachable")
    repo = cache(("storage_pool", "p", [pool, attached, lost]))
    assert refused(vm_refs.check_disk, repo, "p", "", "h1").slug == "pool-not-on-host"
    up = se.PoolStateObserved(pool_id="p", host_id="h1", state="active")
    repo = cache(("storage_pool", "p", [pool, attached, up]))
    vm_refs.check_disk(repo, "p", "", "h1")
    assert refused(vm_refs.check_disk, repo, "p", "gone.qcow2", "h1").slug == "unknown-volume"
    assert refused(vm_refs.check_disk, repo, "q", "", "h1").status == 422
    gone = se.PoolDeleted(pool_id="p", host_ids=["h1"])
    repo = cache(("storage_pool", "p", [pool, attached, up, gone]))
    assert refused(vm_refs.check_disk, repo, "p", "", None).slug == "unknown-pool"


def test_a_network_must_exist_and_not_have_failed_on_the_vms_host() -> None:
    made = ne.NetworkCreated(
        network_id="n", name="lan", network_type="nat", cidr="10.9.0.0/24", gateway="10.9.0.1"
    )
    repo = cache(("network", "n", [made]))
    vm_refs.check_network(repo, "n", "h1")  # not realised there yet: it will be
    assert refused(vm_refs.check_network, repo, "m", None).slug == "unknown-network"
    for state in ("error", "inactive"):
        seen = ne.NetworkStateObserved(network_id="n", host_id="h1", state=state, detail="x")
        repo = cache(("network", "n", [made, seen]))
        problem = refused(vm_refs.check_network, repo, "n", "h1")
        assert (problem.status, problem.slug) == (409, "network-not-on-host")
        vm_refs.check_network(repo, "n", "h2")
    deleted = ne.NetworkDeleted(network_id="n")
    repo = cache(("network", "n", [made, deleted]))
    assert refused(vm_refs.check_network, repo, "n", "h1").slug == "unknown-network"


def test_overlapping_claims_are_refused_and_lapse_without_their_network() -> None:
    now = META.occurred_at
    space = asd.evolve(None, wrap(asd.KIND, asd.SPACE_ID, asd.decide(None, asd.Claim(
        network_id="a", cidr="10.1.0.0/16", name="a", now=now)), META)[0])  # fmt: skip
    with pytest.raises(InvalidState) as err:
        asd.decide(space, asd.Claim(network_id="b", cidr="10.1.2.0/24", name="b", now=now))
    assert err.value.slug == "subnet-claimed" and "claimed by network a" in str(err.value)
    assert asd.decide(space, asd.Claim(network_id="a", cidr="10.1.0.0/16", name="a", now=now)) == []
    later = now + asd.GRACE + timedelta(seconds=1)
    with pytest.raises(InvalidState):  # its network exists: the claim holds for good
        asd.decide(space, asd.Claim(network_id="b", cidr="10.1.2.0/24", name="b", now=later,
                                    live=frozenset({"a"})))  # fmt: skip
    (claimed,) = asd.decide(  # never created: the claim lapsed
        space, asd.Claim(network_id="b", cidr="10.1.2.0/24", name="b", now=later)
    )
    assert claimed == ne.AddressSpaceClaimed(network_id="b", cidr="10.1.2.0/24", name="b")
    (released,) = asd.decide(space, asd.Release(network_id="a"))
    freed = asd.evolve(space, wrap(asd.KIND, asd.SPACE_ID, [released], META)[0])
    assert freed.claims == {} and asd.decide(freed, asd.Release(network_id="a")) == []
