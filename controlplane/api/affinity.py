"""Command routes for affinity rules: ``POST /api/v1/affinity-rules`` → ``201 {rule_id}``,
``PATCH``/``DELETE /api/v1/affinity-rules/{id}``. A rule naming an unknown VM or host is
refused (422); reads are in ``projections``."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from controlplane.api.common import COMMANDS, Name, decode_body, domain_problem, meta_for
from controlplane.domain import affinity as ad
from controlplane.domain.errors import UnknownAggregate
from events import affinity as ae
from events import problems
from events.base import new_id
from events.permissions import CLUSTER_MANAGE, requires

routes = web.RouteTableDef()

Ids = Annotated[
    tuple[Annotated[str, msgspec.Meta(min_length=1, max_length=64)], ...],
    msgspec.Meta(max_length=256),
]


class RuleBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    rule_type: ae.RuleType
    enforcement: ae.Enforcement = "must"
    vm_ids: Ids = ()
    host_ids: Ids = ()
    enabled: bool = True


class RulePatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name | None = None
    enforcement: ae.Enforcement | None = None
    vm_ids: Ids | None = None
    host_ids: Ids | None = None
    enabled: bool | None = None


def _known(
    request: web.Request, vm_ids: tuple[str, ...] | None, host_ids: tuple[str, ...] | None
) -> None:
    repo = request.app[COMMANDS].repo
    for v in vm_ids or ():
        vm = repo.vm(v)
        if vm is None or vm.state == "deleted":
            raise problems.Problem(422, "unknown-vm", "No such VM", f"vm {v} does not exist")
    for h in host_ids or ():
        if repo.host(h) is None:
            raise problems.Problem(422, "unknown-host", "No such host", f"host {h} is not enrolled")


async def _run(request: web.Request, rule_id: str, command: ad.Command) -> int:
    cmds = request.app[COMMANDS]
    try:
        out = await cmds.handler.execute(
            "affinity", rule_id, ad.decider(command), meta_for(request, new_id())
        )
    except UnknownAggregate as exc:
        raise problems.not_found("affinity rule", rule_id) from exc
    except Exception as exc:
        raise domain_problem(exc, rule_id) from exc
    return out.seq


def _answer(status: int, rule_id: str, seq: int) -> web.Response:
    return web.Response(
        status=status,
        body=msgspec.json.encode({"rule_id": rule_id, "seq": seq}),
        content_type="application/json",
    )


@routes.post("/api/v1/affinity-rules")
@requires(CLUSTER_MANAGE)
async def create_rule(request: web.Request) -> web.Response:
    body = await decode_body(request, RuleBody)
    _known(request, body.vm_ids, body.host_ids)
    rule_id = new_id()
    command = ad.Create(rule_id=rule_id, **msgspec.structs.asdict(body))
    return _answer(201, rule_id, await _run(request, rule_id, command))


@routes.patch("/api/v1/affinity-rules/{rule_id}")
@requires(CLUSTER_MANAGE)
async def update_rule(request: web.Request) -> web.Response:
    body = await decode_body(request, RulePatch)
    _known(request, body.vm_ids, body.host_ids)
    rule_id = request.match_info["rule_id"]
    command = ad.Update(**msgspec.structs.asdict(body))
    return _answer(200, rule_id, await _run(request, rule_id, command))


@routes.delete("/api/v1/affinity-rules/{rule_id}")
@requires(CLUSTER_MANAGE)
async def delete_rule(request: web.Request) -> web.Response:
    rule_id = request.match_info["rule_id"]
    return _answer(200, rule_id, await _run(request, rule_id, ad.Delete()))
