"""One-time host join tokens: the secret's form, its digest, and spending it at enrolment.

A join token (``lqj_<id hex>_<43 random chars>``, 256 random bits) admits exactly one new
host. It is shown once when created (``POST /api/v1/join-tokens``); the credentials bucket
keeps its SHA-256 digest under ``join-token.<id>``, the event log only the facts
(``join_token.created|used|revoked``, ``controlplane.domain.join_token``). An agent
presents it in ``EnrollRequest.join_token``; ``admit`` checks it and spends it (appends
``join_token.used``) before the host is enrolled, so a token never admits two hosts, even
when two agents race with it on two controlplane replicas. The digest stays after use, so
a second presentation is told the token was used rather than that it is unknown.
"""

from __future__ import annotations

import hmac
import logging

from controlplane.auth import credentials
from controlplane.auth.credentials import digest
from controlplane.domain import join_token as jd
from controlplane.domain.errors import DomainError
from controlplane.handlers import Handler, TooMuchContention
from events.base import Meta, utcnow
from events.bus import Bus

log = logging.getLogger(__name__)

PREFIX = "lqj_"
KEY_PREFIX = "join-token."


def new_secret(token_id: str) -> str:
    return credentials.new_secret(PREFIX, token_id)


def token_id_of(secret: str) -> str | None:
    """The token id inside a join token string, or None when it is not one."""
    return credentials.id_in_secret(PREFIX, secret)


async def store(bus: Bus, token_id: str, secret: str) -> None:
    await bus.put_credential(KEY_PREFIX + token_id, digest(secret).encode())


async def spend(
    bus: Bus, handler: Handler, secret: str, host_id: str, host_name: str
) -> tuple[jd.JoinToken | None, str | None]:
    """Spend ``secret`` for a new host: (the token, None), or (None, why it is refused).

    The refusal never repeats the secret; an unknown token and a wrong secret for a known
    id get the same answer."""
    unknown = "the join token is not valid"
    token_id = token_id_of(secret)
    if token_id is None:
        return None, unknown
    state: jd.JoinToken | None = handler.repo.get(jd.KIND, token_id)[0]
    if state is None:
        await handler.repo.reload(jd.KIND, token_id)
        state = handler.repo.get(jd.KIND, token_id)[0]
    stored = await bus.credential(KEY_PREFIX + token_id)
    if state is None or stored is None or not hmac.compare_digest(stored.decode(), digest(secret)):
        return None, unknown
    meta = Meta(actor=f"agent:{host_name}", occurred_at=utcnow())
    command = jd.Use(host_id=host_id, host_name=host_name, now=utcnow())
    try:
        await handler.execute(jd.KIND, token_id, jd.decider(command), meta)
    except (DomainError, TooMuchContention) as exc:
        return None, str(exc)
    return state, None
