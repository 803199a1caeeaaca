"""Orders: what the controlplane tells one host's agent to do (``lq.host.<id>.order``).

Every order carries an ``order_id``; the agent treats a repeated id as already done, and
every order is written so that executing it twice has one effect (define an existing
domain, start a running one, remove a missing one: success). The task id travels along so
reports can close the task.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class DefineVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.define_vm"):
    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    start: bool = False


class StartVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.start_vm"):
    vm_id: str


class StopVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.stop_vm"):
    vm_id: str
    force: bool = True


class DeleteVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.delete_vm"):
    vm_id: str


AnyOrder = DefineVm | StartVm | StopVm | DeleteVm


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """The message on ``lq.host.<host_id>.order``; ``Nats-Msg-Id`` is ``order_id``."""

    order_id: str
    host_id: str
    task_id: str | None
    issued_at: datetime
    deadline: datetime | None = None
    traceparent: str | None = None
    body: AnyOrder = msgspec.field(name="order")


ORDER_DECODER = msgspec.json.Decoder(Order)
