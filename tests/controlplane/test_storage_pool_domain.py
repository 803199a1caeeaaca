"""The storage-pool aggregate as tables: given events, when a command, then events or error."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from controlplane.domain import storage_pool as sd
from controlplane.domain.errors import (
    AlreadyExists,
    InsufficientCapacity,
    InvalidRequest,
    InvalidState,
    UnknownPart,
)
from events import storage as se
from events import task as te
from events.base import Event, Meta
from events.codec import wrap

GIB = se.GIB
META = Meta(actor="test", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
ROOTS = ("/srv/pools",)


def fold(events: list[Event], pool: sd.Pool | None = None) -> sd.Pool | None:
    for env in wrap(sd.KIND, "p1", events, META):
        pool = sd.evolve(pool, env)
    return pool


def define(capacity_gib: int = 10, overcommit: float = 1.0, kind: str = "dir") -> sd.Define:
    params = se.parse_params(kind, {"path": "/srv/pools/a"} if kind == "dir" else _params(kind))
    return sd.Define(
        pool_id="p1",
        name="a",
        pool_type=kind,  # type: ignore[arg-type]
        params=params,
        overcommit=overcommit,
        capacity_bytes=capacity_gib * GIB,
        allowed_roots=ROOTS,
    )


def _params(kind: str) -> dict[str, object]:
    table: dict[str, dict[str, object]] = {
        "netfs": {"host": "nfs1", "source_path": "/export", "path": "/mnt/x"},
        "logical": {"vg_name": "vg0"},
        "rbd": {"monitors": ["mon1:6789"], "rbd_pool": "rbd"},
        "iscsi": {"host": "t1", "iqn": "iqn.2004-04.com.example:t1"},
    }
    return table[kind]


def given(*commands: sd.Command) -> sd.Pool:
    pool: sd.Pool | None = None
    for c in commands:
        pool = fold(sd.decide(pool, c), pool)
    assert pool is not None
    return pool


def vol(volume_id: str, gib: int, name: str | None = None) -> sd.CreateVolume:
    return sd.CreateVolume(
        task_id=f"t-{volume_id}", volume_id=volume_id, name=name or volume_id, size_bytes=gib * GIB
    )


def resize(volume_id: str, gib: int, task_id: str = "t-resize") -> sd.ResizeVolume:
    return sd.ResizeVolume(task_id=task_id, volume_id=volume_id, size_bytes=gib * GIB)


def delete(volume_id: str, force: bool = False, attached: tuple[str, ...] = ()) -> sd.DeleteVolume:
    return sd.DeleteVolume(task_id="t-del", volume_id=volume_id, force=force, attached=attached)


def ready(volume_id: str, op: se.VolumeOperation = "create") -> sd.VolumeDone:
    return sd.VolumeDone(volume_id=volume_id, operation=op, host_id="h1", path="/x")


def test_define_checks_the_dir_path_against_the_allowed_roots() -> None:
    for path in ("/etc/pools", "/srv/pools", "/srv/pools/../etc", "/srv/poolsx/a"):
        bad = msgspec.structs.replace(define(), params=se.PoolParams(path=path))
        with pytest.raises(InvalidRequest) as err:
            sd.decide(None, bad)
        assert err.value.slug in ("path-not-allowed", "invalid-path")
    (e,) = sd.decide(None, define())
    assert isinstance(e, se.PoolDefined) and e.params.path == "/srv/pools/a"


def test_unknown_parameters_of_a_type_are_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        se.parse_params("dir", {"path": "/srv/pools/a", "host": "x"})
    with pytest.raises(msgspec.ValidationError):
        se.parse_params("nfs", {"path": "/a"})
    with pytest.raises(msgspec.ValidationError):
        se.parse_params("rbd", {"rbd_pool": "x", "monitors": []})
    with pytest.raises(msgspec.ValidationError):
        se.parse_params("iscsi", {"host": "t", "iqn": "nonsense"})


def test_a_volume_reserves_its_size_and_the_limit_is_capacity_times_overcommit() -> None:
    pool = given(define(10, 1.5), sd.Attach(host_id="h1"), vol("v1", 10))
    assert pool.allocated_bytes == 10 * GIB and pool.limit_bytes == 15 * GIB
    e, queued = sd.decide(pool, vol("v2", 5))
    assert isinstance(e, se.VolumeCreated) and e.size_bytes == 5 * GIB
    assert isinstance(queued, te.TaskQueued) and queued.task_id == "t-v2"
    assert (queued.operation, queued.target_kind, queued.target_id) == (
        "volume.create",
        "volume",
        "v2",
    )
    with pytest.raises(InsufficientCapacity) as err:
        sd.decide(pool, vol("v2", 6))
    assert "5368709120 free" in str(err.value)


def test_capacity_comes_from_the_hosts_when_none_is_declared() -> None:
    pool = given(define(0), sd.Attach(host_id="h1"))
    with pytest.raises(InsufficientCapacity, match="no known capacity"):
        sd.decide(pool, vol("v1", 1))
    pool = given(
        define(0),
        sd.Attach(host_id="h1"),
        sd.Observe(host_id="h1", state="active", capacity_bytes=4 * GIB),
    )
    assert pool.capacity_bytes == 4 * GIB and pool.executor() == "h1"
    sd.decide(pool, vol("v1", 4))
    with pytest.raises(InsufficientCapacity):
        sd.decide(pool, vol("v1", 5))


def test_two_creations_racing_for_the_last_space_one_wins() -> None:
    """Both decide against the same version; the second is decided again after the
    first one's append (what the handler does on a conflict) and refused."""
    base = given(define(10), sd.Attach(host_id="h1"), vol("v0", 6))
    first = sd.decide(base, vol("a", 4))
    second = sd.decide(base, vol("b", 4))  # would fit alone
    assert first and second
    after_first = fold(first, base)
    with pytest.raises(InsufficientCapacity):
        sd.decide(after_first, vol("b", 4))


def test_names_are_unique_in_a_pool_and_creation_needs_a_host() -> None:
    with pytest.raises(InvalidState, match="attached to no host"):
        sd.decide(given(define()), vol("v1", 1))
    pool = given(define(), sd.Attach(host_id="h1"), vol("v1", 1, "disk"))
    with pytest.raises(AlreadyExists):
        sd.decide(pool, vol("v2", 1, "disk"))
    assert sd.decide(pool, vol("v1", 1, "disk")) == []  # the same request again


def test_resize_grows_only_and_a_failed_resize_keeps_the_old_size() -> None:
    pool = given(define(10), sd.Attach(host_id="h1"), vol("v1", 2), ready("v1"))
    with pytest.raises(InvalidRequest) as err:
        sd.decide(pool, resize("v1", 1))
    assert err.value.slug == "shrink-not-supported"
    same = sd.decide(pool, resize("v1", 2))  # nothing to do: a task that ends at once
    assert [type(e) for e in same] == [te.TaskQueued, te.TaskSucceeded]
    with pytest.raises(InsufficientCapacity):
        sd.decide(pool, resize("v1", 11))
    pool = given(
        define(10),
        sd.Attach(host_id="h1"),
        vol("v1", 2),
        ready("v1"),
        resize("v1", 5),
    )
    assert pool.volumes["v1"].state == "resizing" and pool.allocated_bytes == 5 * GIB
    assert pool.volumes["v1"].task_id == "t-resize"
    with pytest.raises(InvalidState):
        sd.decide(pool, resize("v1", 6))
    events = sd.decide(pool, sd.VolumeFailed(volume_id="v1", operation="resize", error="x"))
    assert [type(e) for e in events] == [se.VolumeFailed, te.TaskFailed]
    assert isinstance(events[1], te.TaskFailed) and events[1].task_id == "t-resize"
    failed = fold(events, pool)
    assert failed is not None
    assert failed.volumes["v1"].size_bytes == 2 * GIB and failed.volumes["v1"].state == "ready"


def test_delete_refuses_while_attached_unless_forced_and_frees_the_space() -> None:
    pool = given(define(10), sd.Attach(host_id="h1"), vol("v1", 8), ready("v1"))
    with pytest.raises(InvalidState) as err:
        sd.decide(pool, delete("v1", attached=("vm1/disk1",)))
    assert err.value.slug == "volume-in-use"
    e, queued = sd.decide(pool, delete("v1", force=True, attached=("vm1/disk1",)))
    assert isinstance(e, se.VolumeDeleteRequested) and e.detached == ["vm1/disk1"]
    assert isinstance(queued, te.TaskQueued) and queued.operation == "volume.delete"
    pool = fold([e, queued], pool) or pool
    assert sd.decide(pool, delete("v1")) == []  # already being deleted: its task goes on
    assert pool.allocated_bytes == 8 * GIB  # still on disk until the host deleted it
    pool = fold(sd.decide(pool, ready("v1", "delete")), pool) or pool
    assert pool.allocated_bytes == 0 and "v1" not in pool.volumes
    with pytest.raises(UnknownPart):
        sd.decide(pool, delete("v1"))


def test_a_failed_creation_gives_the_space_back() -> None:
    pool = given(define(10), sd.Attach(host_id="h1"), vol("v1", 10))
    pool = fold(sd.decide(pool, sd.VolumeFailed(volume_id="v1", operation="create", error="x")),
                pool) or pool  # fmt: skip
    assert pool.volumes["v1"].state == "failed" and pool.allocated_bytes == 0
    sd.decide(pool, vol("v2", 10))


def test_clone_reserves_the_source_size_and_needs_a_ready_source() -> None:
    pool = given(define(10), sd.Attach(host_id="h1"), vol("v1", 4))
    clone = sd.CreateVolume(task_id="t", volume_id="c1", name="c1", size_bytes=0, clone_of="v1")
    with pytest.raises(InvalidState):
        sd.decide(pool, clone)
    pool = given(define(10), sd.Attach(host_id="h1"), vol("v1", 4), ready("v1"))
    e, queued = sd.decide(pool, clone)
    assert isinstance(e, se.VolumeCreated) and e.size_bytes == 4 * GIB
    assert isinstance(queued, te.TaskQueued) and queued.operation == "volume.clone"
    pool = fold([e], pool) or pool
    assert pool.volumes["c1"].operation == "clone"
    with pytest.raises(InsufficientCapacity):
        sd.decide(
            pool,
            sd.CreateVolume(task_id="t2", volume_id="c2", name="c2", size_bytes=0, clone_of="v1"),
        )


def test_local_pools_attach_to_one_host_shared_ones_to_many() -> None:
    pool = given(define(), sd.Attach(host_id="h1"))
    with pytest.raises(InvalidState) as err:
        sd.decide(pool, sd.Attach(host_id="h2"))
    assert err.value.slug == "pool-not-shared"
    shared = given(define(kind="netfs"), sd.Attach(host_id="h1"), sd.Attach(host_id="h2"))
    assert set(shared.hosts) == {"h1", "h2"}


def test_state_reports_only_become_events_when_something_moved() -> None:
    pool = given(define(), sd.Attach(host_id="h1"))
    seen = sd.Observe(host_id="h1", state="active", capacity_bytes=100 * GIB)
    pool = fold(sd.decide(pool, seen), pool) or pool
    assert sd.decide(pool, seen) == []
    assert sd.decide(pool, sd.Observe(host_id="h1", state="active", capacity_bytes=100 * GIB
                                      + 1000)) == []  # fmt: skip
    assert sd.decide(pool, sd.Observe(host_id="h2", state="active")) == []  # not attached
    (e,) = sd.decide(pool, sd.Observe(host_id="h1", state="unreachable", error="gone"))
    assert isinstance(e, se.PoolStateObserved)


def test_pool_delete_and_detach_refuse_while_volumes_live() -> None:
    pool = given(define(), sd.Attach(host_id="h1"), vol("v1", 1))
    with pytest.raises(InvalidState, match="still holds"):
        sd.decide(pool, sd.Delete())
    with pytest.raises(InvalidState) as err:
        sd.decide(pool, sd.Detach(host_id="h1"))
    assert err.value.slug == "pool-in-use"
    empty = given(define(), sd.Attach(host_id="h1"))
    (e,) = sd.decide(empty, sd.Delete())
    assert isinstance(e, se.PoolDeleted) and e.host_ids == ["h1"]


def test_update_may_not_put_the_limit_under_what_is_allocated() -> None:
    pool = given(define(10), sd.Attach(host_id="h1"), vol("v1", 8))
    with pytest.raises(InvalidState):
        sd.decide(pool, sd.Update(capacity_bytes=4 * GIB))
    (e,) = sd.decide(pool, sd.Update(capacity_bytes=4 * GIB, overcommit=2.0))
    assert isinstance(e, se.PoolUpdated)


def test_iscsi_pools_take_no_new_volumes() -> None:
    pool = given(define(kind="iscsi"), sd.Attach(host_id="h1"))
    with pytest.raises(InvalidRequest) as err:
        sd.decide(pool, vol("v1", 1))
    assert err.value.slug == "pool-read-only"


def test_a_volume_operation_is_a_task_queued_running_then_ended_by_the_host() -> None:
    pool = given(define(10), sd.Attach(host_id="h1"), vol("v1", 2))
    assert pool.volumes["v1"].task_id == "t-v1" and not pool.volumes["v1"].task_running
    started = sd.VolumeStarted(volume_id="v1", operation="create", host_id="h1")
    (running,) = sd.decide(pool, started)
    assert running == te.TaskRunning(task_id="t-v1", host_id="h1")
    pool = fold([running], pool) or pool
    assert pool.volumes["v1"].task_running and sd.decide(pool, started) == []  # once only
    progress = sd.decide(pool, sd.VolumeProgress(volume_id="v1", percent=40, message="40 %"))
    assert [type(e) for e in progress] == [se.VolumeProgressed, te.TaskProgressed]
    done = sd.decide(pool, ready("v1"))
    assert [type(e) for e in done] == [se.VolumeReady, te.TaskSucceeded]
    # an outcome that overtakes the host's acknowledgement still passes through running
    quick = given(define(10), sd.Attach(host_id="h1"), vol("v2", 2))
    assert [type(e) for e in sd.decide(quick, ready("v2"))] == [
        se.VolumeReady,
        te.TaskRunning,
        te.TaskSucceeded,
    ]
    failed = sd.decide(
        quick, sd.VolumeFailed(volume_id="v2", operation="create", error="disk full")
    )
    assert failed[-1] == te.TaskFailed(task_id="t-v2", error="disk full")
    # a late answer about another operation decides nothing
    assert sd.decide(quick, sd.VolumeFailed(volume_id="v2", operation="resize", error="x")) == []
