"""The pure parts of access control, as tables: user, role, token and session aggregates,
permission evaluation, JWT verification and the API-token format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import msgspec
import pytest

from controlplane.auth import credentials, jwts
from controlplane.domain import role, session, token, user
from controlplane.domain.errors import AlreadyExists, InvalidState, UnknownAggregate
from events import auth as ae
from events.base import Event, Meta
from events.codec import Envelope, wrap
from events.permissions import BUILTIN_ROLES, Binding, Principal, requires

T0 = datetime(2030, 1, 1, tzinfo=UTC)
KEY = b"k" * 64


def fold(evolve: Any, events: list[Event], at: datetime = T0) -> Any:
    state = None
    for env in wrap("x", "id", events, Meta(actor="t", occurred_at=at)):
        state = evolve(state, env)
    return state


def test_user_lifecycle() -> None:
    made = user.decide(None, user.Create(username="Ann", bindings=(Binding(role="viewer"),) * 2))
    assert [type(e) for e in made] == [ae.UserCreated, ae.UserRoleBound]
    u = fold(user.evolve, made)
    assert u.user_id == user.user_id_for("ann") and u.active
    with pytest.raises(AlreadyExists):
        user.decide(u, user.Create(username="ann"))
    assert user.decide(u, user.Bind(binding=Binding(role="viewer"))) == []
    gone = fold(user.evolve, [*made, *user.decide(u, user.Delete())])
    assert gone.deleted and gone.bindings == ()
    with pytest.raises(UnknownAggregate):
        user.decide(gone, user.Disable())
    assert user.decide(gone, user.Create(username="ann"))  # a deleted name can come back


def test_roles_cannot_shadow_builtins_or_invent_permissions() -> None:
    with pytest.raises(InvalidState):
        role.decide(None, role.Define(role="admin", permissions=("vm.read",)))
    with pytest.raises(InvalidState):
        role.decide(None, role.Define(role="r", permissions=("vm.teleport",)))
    with pytest.raises(UnknownAggregate):
        role.decide(None, role.Define(role="r", permissions=("vm.read",), update=True))
    r = fold(role.evolve, role.decide(None, role.Define(role="r", permissions=("vm.read",))))
    assert r.permissions == {"vm.read"}
    assert role.decide(r, role.Define(role="r", permissions=("vm.read",), update=True)) == []


def test_token_expiry_and_revocation() -> None:
    issue = token.Issue(
        token_id="t",
        user_id="u",
        name="ci",
        scopes=("vm.read",),
        expires_at=T0 + timedelta(days=1),
        now=T0,
    )
    t = fold(token.evolve, token.decide(None, issue))
    assert t.valid_at(T0) and not t.valid_at(T0 + timedelta(days=1))
    revoked = fold(token.evolve, [*token.decide(None, issue), *token.decide(t, token.Revoke())])
    assert not revoked.valid_at(T0) and token.decide(revoked, token.Revoke()) == []
    with pytest.raises(InvalidState):
        token.decide(None, msgspec.structs.replace(issue, expires_at=T0))


def test_refresh_rotation_detects_reuse() -> None:
    start = session.Start(
        session_id="s", user_id="u", username="ann", address="", expires_at=T0 + timedelta(1)
    )
    soon = T0 + timedelta(hours=1)
    events = session.decide(None, start)
    s = fold(session.evolve, events)
    refreshed = session.decide(s, session.Refresh(generation=0, expires_at=soon, now=T0))
    assert isinstance(refreshed[0], ae.SessionRefreshed) and refreshed[0].generation == 1
    s1 = fold(session.evolve, events + refreshed)
    reused = session.decide(s1, session.Refresh(generation=0, expires_at=soon, now=T0))
    assert isinstance(reused[0], ae.SessionEnded) and reused[0].reason == "refresh-reused"
    assert not fold(session.evolve, events + refreshed + reused).valid_at(T0)
    with pytest.raises(InvalidState):  # an ended session cannot be refreshed
        session.decide(
            fold(session.evolve, events + reused),
            session.Refresh(generation=1, expires_at=soon, now=T0),
        )


def test_principal_scopes() -> None:
    p = Principal(
        user_id="u",
        username="ann",
        via="session",
        permissions=BUILTIN_ROLES["viewer"],
        scoped={"c1": frozenset({"vm.power"})},
    )
    assert p.allows("vm.read") and not p.allows("vm.power")
    assert p.allows("vm.power", cluster_id="c1") and not p.allows("vm.power", cluster_id="c2")
    assert BUILTIN_ROLES["admin"] >= BUILTIN_ROLES["operator"] >= BUILTIN_ROLES["viewer"]
    with pytest.raises(ValueError):
        requires("vm.teleport")


def test_jwt_verification_is_strict() -> None:
    now = datetime.now(UTC)
    good = jwts.issue(KEY, "access", user_id="u", session_id="s", now=now, ttl=timedelta(60))
    assert jwts.verify(KEY, good, "access")["sid"] == "s"
    with pytest.raises(jwts.BadToken):
        jwts.verify(KEY, good, "refresh")
    with pytest.raises(jwts.BadToken):
        jwts.verify(b"o" * 64, good, "access")
    claims = pyjwt.decode(good, options={"verify_signature": False})
    for bad in (
        pyjwt.encode({**claims, "aud": "x"}, KEY, algorithm="HS256"),
        pyjwt.encode({**claims, "exp": 1}, KEY, algorithm="HS256"),
        pyjwt.encode({k: v for k, v in claims.items() if k != "sid"}, KEY, algorithm="HS256"),
        pyjwt.encode(claims, KEY, algorithm="HS384"),
    ):
        with pytest.raises(jwts.BadToken):
            jwts.verify(KEY, bad, "access")


def test_api_token_format() -> None:
    tid = "0190a8b2-7c4e-7d3a-9f00-123456789abc"
    secret = credentials.new_token(tid)
    assert credentials.token_id_of(secret) == tid
    for bad in ("lqt_", "lqt_zz_x", "eyJ.a.b", "lqt_" + "g" * 32 + "_x"):
        assert credentials.token_id_of(bad) is None


def test_envelope_of_security_events_round_trips() -> None:
    from events.codec import decode_batch, encode

    envs: list[Envelope] = wrap(
        "user",
        "u",
        [ae.UserRoleBound(user_id="u", binding=Binding(role="r", scope="cluster:c"))],
        Meta(actor="t", occurred_at=T0),
    )
    assert decode_batch(encode(envs)) == envs
