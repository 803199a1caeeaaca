"""Orders are idempotent: each order executed twice has one effect, and a redelivered
order id is answered again from the journal without touching the hypervisor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agent.hypervisor import Hypervisor, Lifecycle
from agent.orders import OrderExecutor, OrderJournal, Outcome
from events.base import new_id, utcnow
from events.orders import AnyOrder, DefineVm, DeleteVm, Order, StartVm, StopVm
from events.reports import OrderDone, OrderFailed
from tests.agent.conftest import drain_events, new_vm_id

HOST = "host-a"


def order(body: AnyOrder, **kw: object) -> Order:
    return Order(
        order_id=new_id(),
        host_id=HOST,
        task_id=new_id(),
        issued_at=utcnow(),
        body=body,
        **kw,  # type: ignore[arg-type]
    )


def define(vm_id: str, start: bool = False) -> DefineVm:
    return DefineVm(vm_id=vm_id, name="web", vcpus=1, memory_mib=128, start=start)


@pytest.fixture
def executor(hypervisor: Hypervisor, tmp_path: Path) -> OrderExecutor:
    return OrderExecutor(hypervisor, OrderJournal(tmp_path / "orders.json"))


def done(outcome: Outcome) -> OrderDone:
    assert isinstance(outcome.body, OrderDone), outcome.body
    return outcome.body


def failed(outcome: Outcome) -> OrderFailed:
    assert isinstance(outcome.body, OrderFailed), outcome.body
    return outcome.body


async def test_each_order_twice_has_one_effect(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = new_vm_id()
    script: list[tuple[AnyOrder, str, list[Lifecycle]]] = [
        (define(vm_id), "stopped", [Lifecycle(vm_id, "stopped", "defined")]),
        (StartVm(vm_id=vm_id), "running", [Lifecycle(vm_id, "running", "booted")]),
        (StopVm(vm_id=vm_id, force=True), "stopped", [Lifecycle(vm_id, "stopped", "destroyed")]),
        (DeleteVm(vm_id=vm_id), "deleted", [Lifecycle(vm_id, "deleted", "undefined")]),
    ]
    for body, state, effect in script:
        first = done(await executor.execute(order(body)))
        second = done(await executor.execute(order(body)))  # a new order id: runs again
        assert first.state == second.state == state
        assert await drain_events(hypervisor) == effect, body
    assert await hypervisor.list_managed() == []


async def test_define_with_start_on_an_existing_stopped_domain(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = new_vm_id()
    assert done(await executor.execute(order(define(vm_id)))).state == "stopped"
    assert done(await executor.execute(order(define(vm_id, start=True)))).state == "running"
    assert done(await executor.execute(order(define(vm_id, start=True)))).state == "running"
    assert [d.vm_id for d in await hypervisor.list_managed()] == [vm_id]


async def test_graceful_stop(executor: OrderExecutor, hypervisor: Hypervisor) -> None:
    vm_id = new_vm_id()
    await executor.execute(order(define(vm_id, start=True)))
    body = done(await executor.execute(order(StopVm(vm_id=vm_id, force=False))))
    assert body.state == "stopped"
    assert await hypervisor.state_reason(vm_id) == ("stopped", "shutdown")


async def test_delete_of_a_missing_domain_succeeds(executor: OrderExecutor) -> None:
    body = done(await executor.execute(order(DeleteVm(vm_id=new_vm_id()))))
    assert (body.operation, body.state) == ("delete", "deleted")


@pytest.mark.parametrize("body", [StartVm(vm_id=new_vm_id()), StopVm(vm_id=new_vm_id())])
async def test_start_or_stop_of_a_missing_domain_fails_permanently(
    executor: OrderExecutor, body: AnyOrder
) -> None:
    result = failed(await executor.execute(order(body)))
    assert result.permanent
    assert result.state is None
    assert body.vm_id in result.error


async def test_invalid_define_fails_permanently(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    body = DefineVm(vm_id=new_vm_id(), name="x", vcpus=0, memory_mib=128)
    result = failed(await executor.execute(order(body)))
    assert (result.operation, result.permanent) == ("create", True)
    assert await hypervisor.list_managed() == []


async def test_expired_order_is_not_executed(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    late = order(define(new_vm_id()), deadline=utcnow() - timedelta(seconds=1))
    assert "deadline" in failed(await executor.execute(late)).error
    assert await hypervisor.list_managed() == []


async def test_redelivered_order_is_answered_without_executing(
    executor: OrderExecutor, hypervisor: Hypervisor, tmp_path: Path
) -> None:
    vm_id = new_vm_id()
    start = order(define(vm_id, start=True))
    first = await executor.execute(start)
    await drain_events(hypervisor)
    await hypervisor.stop(vm_id, force=True)  # someone stops it behind our back
    await drain_events(hypervisor)

    again = await executor.execute(start)
    assert again.replayed and not first.replayed
    assert (again.report_id, again.body) == (first.report_id, first.body)
    assert await hypervisor.state(vm_id) == "stopped"  # not started a second time
    assert await drain_events(hypervisor) == []

    # the journal survives a restart of the agent
    reborn = OrderExecutor(hypervisor, OrderJournal(tmp_path / "orders.json"))
    after_restart = await reborn.execute(start)
    assert after_restart.replayed
    assert after_restart.report_id == first.report_id
    assert await hypervisor.state(vm_id) == "stopped"


async def test_give_up_is_remembered(executor: OrderExecutor) -> None:
    o = order(StartVm(vm_id=new_vm_id()))
    gave_up = await executor.give_up(o, "hypervisor unreachable")
    result = failed(gave_up)
    assert not result.permanent
    assert (await executor.execute(o)).report_id == gave_up.report_id


async def test_journal_is_bounded_and_tolerates_garbage(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    journal = OrderJournal(path, capacity=3)
    ids = [new_id() for _ in range(5)]
    for oid in ids:
        body = OrderDone(order_id=oid, vm_id="v", operation="start", state="running")
        await journal.record(Outcome(order_id=oid, report_id=new_id(), body=body))
    assert len(journal) == 3
    assert journal.get(ids[0]) is None
    reloaded = OrderJournal(path, capacity=2)
    assert len(reloaded) == 2
    assert reloaded.get(ids[4]) is not None

    path.write_text("{not json")
    assert len(OrderJournal(path)) == 0


async def test_host_state_is_saved_before_the_answer_is_journalled(
    hypervisor: Hypervisor, tmp_path: Path
) -> None:
    """An agent SIGKILLed between journalling an answer and saving its simulated host
    would, once restarted, answer the redelivered order "done" from the journal for a
    domain its host no longer has. The executor saves first, then journals."""
    from agent import simhost
    from agent.persist import NodeFileKeeper

    found = NodeFileKeeper.for_hypervisor(hypervisor)
    assert found is not None
    keeper: NodeFileKeeper = found
    vm_id = new_vm_id()

    class CheckingJournal(OrderJournal):
        async def record(self, outcome: Outcome) -> None:
            saved = simhost.saved_domains(keeper.path)
            assert any(vm_id in d.xml for d in saved), "journalled before the host was saved"
            await super().record(outcome)

    executor = OrderExecutor(
        hypervisor, CheckingJournal(tmp_path / "orders.json"), persist=keeper.save
    )
    assert done(await executor.execute(order(define(vm_id, start=True)))).state == "running"
