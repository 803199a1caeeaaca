"""Command routes of virtual networks: create, change, delete, static reservations.

Each is a decision on the ``network`` aggregate (``controlplane.domain.network``), which
checks the subnet rules itself; the one cross-network rule (no two subnets overlap) gets
the other networks' subnets from the aggregate cache, and a creation then claims its
subnet on the address-space aggregate (``controlplane.domain.address_space``) before it
appends ``network.created``, so that of two overlapping creations at the same instant
exactly one passes and the other answers ``409 subnet-claimed``; a deletion releases the
claim. A creation or rename also claims the network's name (``controlplane.names``:
unique among live networks, any case; ``409 name-taken``). Bad input answers problem+json
4xx and appends nothing. Creation answers ``201`` with the network; the others ``202`` with
the ``seq`` to read it back with (``?min_seq=``). The query routes (list, one, addresses)
are in ``projections.networks_api``.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from controlplane.api.common import (
    COMMANDS,
    Name,
    check_name,
    claim_name,
    decode_body,
    meta_for,
    no_body,
)
from controlplane.domain import address_space as asd
from controlplane.domain import name_claim
from controlplane.domain import network as nd
from controlplane.domain.errors import DomainError, InvalidRequest, UnknownAggregate
from controlplane.handlers import Outcome, TooMuchContention
from events import network as ne
from events import problems
from events.base import new_id, utcnow
from events.permissions import NETWORK_MANAGE, requires

routes = web.RouteTableDef()

Ip = Annotated[str, msgspec.Meta(max_length=64)]
Mac = Annotated[str, msgspec.Meta(max_length=17)]


class ReservationBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mac: Mac
    ip: Ip
    name: Annotated[str, msgspec.Meta(max_length=63)] = ""


class CreateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    type: Literal["isolated", "nat", "bridge", "vlan"]
    cidr: Annotated[str, msgspec.Meta(max_length=64)]
    gateway: Ip = ""
    dns: Annotated[list[Ip], msgspec.Meta(max_length=8)] = []
    dhcp: bool = True
    dhcp_start: Ip = ""
    dhcp_end: Ip = ""
    mtu: int = 0
    vlan_id: int = 0
    bridge: Annotated[str, msgspec.Meta(max_length=64)] = ""
    reservations: Annotated[list[ReservationBody], msgspec.Meta(max_length=1024)] = []


class UpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    dns: Annotated[list[Ip], msgspec.Meta(max_length=8)] | None = None
    dhcp: bool | None = None
    dhcp_start: Ip | None = None
    dhcp_end: Ip | None = None
    mtu: int | None = None


def problem_for(exc: Exception, kind: str, ident: str) -> problems.Problem:
    """The problem for a refused network or security-group command; others re-raise."""
    if isinstance(exc, UnknownAggregate):
        return problems.not_found(kind, ident)
    if isinstance(exc, InvalidRequest):
        return problems.Problem(422, exc.slug, "The request is not valid", str(exc))
    if isinstance(exc, DomainError):
        return problems.conflict(str(exc), slug=exc.slug)
    if isinstance(exc, TooMuchContention):
        return problems.busy(str(exc))
    raise exc


async def execute(request: web.Request, kind: str, ident: str, decide: Any) -> Outcome:
    """One decision on ``kind``/``ident`` with the request's metadata; refusals → problems."""
    cmds = request.app[COMMANDS]
    try:
        return await cmds.handler.execute(kind, ident, decide, meta_for(request, new_id()))
    except (DomainError, TooMuchContention) as exc:
        raise problem_for(exc, kind.replace("_", " "), ident) from exc


def live_networks(request: web.Request) -> list[nd.Network]:
    return [n for n in request.app[COMMANDS].repo.all(nd.KIND) if not n.deleted]


def _existing(request: web.Request) -> nd.Network:
    ident = request.match_info["id"]
    state: nd.Network | None = request.app[COMMANDS].repo.get(nd.KIND, ident)[0]
    if state is None or state.deleted:
        raise problems.not_found("network", ident)
    return state


def _nics_on(request: web.Request, network_id: str) -> list[str]:
    """``vm/nic`` of every NIC of a live VM that names the network (allocated or not)."""
    out = []
    for vm in request.app[COMMANDS].repo.all("vm"):
        if vm.state == "deleted":
            continue
        out += [f"{vm.vm_id}/{n.nic_id}" for n in vm.nics if n.network_id == network_id]
    return out


def network_json(n: nd.Network, seq: int) -> dict[str, Any]:
    return {
        "network_id": n.network_id,
        "name": n.name,
        "type": n.network_type,
        "cidr": n.cidr,
        "gateway": n.gateway,
        "dns": list(n.dns),
        "dhcp": n.dhcp,
        "dhcp_start": n.dhcp_start,
        "dhcp_end": n.dhcp_end,
        "mtu": n.mtu,
        "vlan_id": n.vlan_id,
        "bridge": n.bridge,
        "reservations": [msgspec.to_builtins(r) for r in n.reservations.values()],
        "seq": seq,
    }


@routes.post("/api/v1/networks")
@requires(NETWORK_MANAGE)
async def create_network(request: web.Request) -> web.Response:
    body = await decode_body(request, CreateBody)
    others = live_networks(request)
    network_id = new_id()
    check_name(request, name_claim.NETWORK, body.name, network_id)
    command = nd.Create(
        network_id=network_id,
        name=body.name,
        network_type=body.type,
        cidr=body.cidr,
        gateway=body.gateway,
        dns=tuple(body.dns),
        dhcp=body.dhcp,
        dhcp_start=body.dhcp_start,
        dhcp_end=body.dhcp_end,
        mtu=body.mtu,
        vlan_id=body.vlan_id,
        bridge=body.bridge,
        reservations=tuple(
            ne.Reservation(mac=r.mac.lower(), ip=r.ip, name=r.name) for r in body.reservations
        ),
        others=tuple(n.cidr for n in others),
    )
    try:  # the network's own rules first: an invalid request claims nothing
        nd.decide(None, command)
    except DomainError as exc:
        raise problem_for(exc, "network", command.network_id) from exc
    claim = asd.Claim(
        network_id=command.network_id,
        cidr=body.cidr,
        name=body.name,
        now=utcnow(),
        live=frozenset(n.network_id for n in others),
    )
    await execute(request, asd.KIND, asd.SPACE_ID, asd.decider(claim))
    try:
        await claim_name(request, name_claim.NETWORK, body.name, command.network_id)
        out = await execute(request, nd.KIND, command.network_id, nd.decider(command))
    except Exception:
        await _release(request, command.network_id)
        raise
    return web.json_response(network_json(out.state, out.seq), status=201)


async def _release(request: web.Request, network_id: str) -> None:
    """Give the network's subnet back (best effort: a claim without its network lapses
    after ``address_space.GRACE`` anyway)."""
    release = asd.decider(asd.Release(network_id=network_id))
    with contextlib.suppress(Exception):
        await execute(request, asd.KIND, asd.SPACE_ID, release)


@routes.patch("/api/v1/networks/{id}")
@requires(NETWORK_MANAGE)
async def update_network(request: web.Request) -> web.Response:
    n = _existing(request)
    body = await decode_body(request, UpdateBody)
    renamed = body.name is not None and body.name != n.name
    if body.name is not None and renamed:
        check_name(request, name_claim.NETWORK, body.name, n.network_id)
    command = nd.Update(
        name=body.name,
        dns=None if body.dns is None else tuple(body.dns),
        dhcp=body.dhcp,
        dhcp_start=body.dhcp_start,
        dhcp_end=body.dhcp_end,
        mtu=body.mtu,
    )
    if body.name is not None and renamed:  # its own rules first: if invalid, claim nothing
        try:
            nd.decide(n, command)
        except DomainError as exc:
            raise problem_for(exc, "network", n.network_id) from exc
        await claim_name(request, name_claim.NETWORK, body.name, n.network_id)
    out = await execute(request, nd.KIND, n.network_id, nd.decider(command))
    return web.json_response({"network_id": n.network_id, "seq": out.seq}, status=202)


@routes.delete("/api/v1/networks/{id}")
@requires(NETWORK_MANAGE)
async def delete_network(request: web.Request) -> web.Response:
    n = _existing(request)
    using = _nics_on(request, n.network_id)
    if using:
        raise problems.conflict(
            f"network {n.name} is used by {len(using)} NICs ({', '.join(using[:5])})",
            slug="network-in-use",
        )
    out = await execute(request, nd.KIND, n.network_id, nd.decider(nd.Delete()))
    await _release(request, n.network_id)
    return web.json_response({"network_id": n.network_id, "seq": out.seq}, status=202)


@routes.post("/api/v1/networks/{id}/reservations")
@requires(NETWORK_MANAGE)
async def add_reservation(request: web.Request) -> web.Response:
    n = _existing(request)
    body = await decode_body(request, ReservationBody)
    command = nd.AddReservation(mac=body.mac.lower(), ip=body.ip, name=body.name)
    out = await execute(request, nd.KIND, n.network_id, nd.decider(command))
    return web.json_response({"network_id": n.network_id, "seq": out.seq}, status=202)


@routes.delete("/api/v1/networks/{id}/reservations/{mac}")
@requires(NETWORK_MANAGE)
async def remove_reservation(request: web.Request) -> web.Response:
    n = _existing(request)
    await no_body(request)
    mac = request.match_info["mac"].lower()
    if mac not in n.reservations:
        raise problems.not_found("reservation", mac)
    out = await execute(request, nd.KIND, n.network_id, nd.decider(nd.RemoveReservation(mac=mac)))
    return web.json_response({"network_id": n.network_id, "seq": out.seq}, status=202)
