"""Access and refresh tokens as HS256 JWTs (PyJWT), and their strict verification.

Both kinds name the session (``sid``) so logout and password changes revoke them at once;
the refresh token also carries the session's generation (``gen``) for rotation. Decoding
pins the algorithm (no ``alg: none``, no algorithm confusion), the audience and issuer,
requires every claim we rely on, and checks ``typ`` so a refresh token is never accepted
as an access token or the other way round.

Every API request carries its access token, and decoding one costs more than the rest of
a small request's authentication, so a verified access token's claims are remembered
until the token expires (``VERIFIED``, bounded). Nothing else is skipped: the session and
the account behind the claims are still checked on every request.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt

from events.base import new_id

ALGORITHM = "HS256"
AUDIENCE = "limiquantix-api"
ISSUER = "limiquantix"
Kind = Literal["access", "refresh"]


VERIFIED = 4096
"""Verified access tokens whose claims are remembered (all are forgotten when full)."""
_verified: dict[tuple[bytes, str], dict[str, Any]] = {}


class BadToken(Exception):
    """The token is not one we issued, or no longer valid; never says which secret part."""


def issue(
    key: bytes,
    kind: Kind,
    *,
    user_id: str,
    session_id: str,
    now: datetime,
    ttl: timedelta,
    generation: int = 0,
) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "sid": session_id,
        "typ": kind,
        "jti": new_id(),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if kind == "refresh":
        claims["gen"] = generation
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(key: bytes, token: str, kind: Kind) -> dict[str, Any]:
    """The claims of a valid token of ``kind``; ``BadToken`` otherwise."""
    if kind == "access" and (known := _verified.get((key, token))) is not None:
        if time.time() < known["exp"]:
            return dict(known)
        del _verified[(key, token)]
    claims = _decode(key, token, kind)
    if kind == "access":
        if len(_verified) >= VERIFIED:
            _verified.clear()
        _verified[(key, token)] = dict(claims)
    return claims


def _decode(key: bytes, token: str, kind: Kind) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "typ", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise BadToken("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise BadToken(f"the token is not valid ({type(exc).__name__})") from exc
    if claims.get("typ") != kind:
        raise BadToken(f"not an {kind} token")
    if not isinstance(claims.get("sid"), str) or not isinstance(claims.get("sub"), str):
        raise BadToken("the token is not valid (claims)")
    if kind == "refresh" and not isinstance(claims.get("gen"), int):
        raise BadToken("the token is not valid (claims)")
    return claims
