"""The agent's NATS identity when hosts have their own NATS users (docs/security.md).

The agent generates its host key itself (``<state dir>/nats-host.nk``, mode 0600: the seed
never leaves the host) and presents its public key, signed, at enrolment. Before it has a
host id it connects with the join credential (the enrolment user, which may only ask
``lq.enroll``), then reconnects as its host user; a restarted agent connects as its host
user at once. When the server refuses that key (the host's credentials were revoked), the
agent sets the old seed aside, makes a new one and enrols again with the join credential —
the controlplane accepts the new key only for a host that has none.

In JWT mode the join credential is a ``.creds`` file, and the enrolment answer carries the
host's user JWT (signed by the account); the agent writes it with its seed into
``<state dir>/nats-host.creds`` (mode 0600) and connects with that. The JWT expires
(``nats_host_jwt_ttl_s``) and the server ends a connection whose JWT expired (nats-py
then closes for good), so ``renew`` enrols again, as the host, at half the lifetime and
reconnects with the fresh JWT; a host whose enrolment is refused (removed, revoked) is
out within one lifetime.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from events import natsauth, natsjwt, subjects
from events.bus import Bus
from events.codec import encode
from events.errors import LqError
from events.natsauth import ClientAuth
from events.reports import ENROLL_REPLY_DECODER, EnrollRequest
from events.settings import Settings

log = logging.getLogger(__name__)

REFUSALS = 3  # refusals of a restarted agent's key before it enrols with a new one


class AgentIdentity:
    def __init__(self, settings: Settings, state_dir: Path) -> None:
        self.enabled = natsauth.per_host(settings)
        self.jwt = natsauth.jwt_mode(settings)
        self.seed = state_dir / natsauth.HOST_SEED
        self.creds = state_dir / natsauth.HOST_CREDS
        self.join = natsauth.enroll_auth(settings)
        self.id_file = state_dir / "host_id"
        self.connected_as: str | None = None  # the host id, or "" for the join credential
        self._refusals = 0  # of the key a restarted agent starts with
        self._started_enrolled = False

    def initial(self) -> ClientAuth | None:
        """Whom to connect as first: the host user when enrolled before, else the join
        credential (None: NATS has no authorization)."""
        if not self.enabled:
            return None
        known = self.id_file.read_text().strip() if self.id_file.is_file() else ""
        if known and self.seed.is_file() and (not self.jwt or self.creds.is_file()):
            self.connected_as = known
            self._started_enrolled = True
            return self._host(known)
        self.connected_as = ""
        return self.join

    def refused(self, auth: ClientAuth | None, error: str) -> ClientAuth | None:
        """A connection as ``auth`` failed with ``error``: the identity to try next.

        Only the key a restarted agent starts with is replaced, after three refusals in a
        row; a key the controlplane just admitted is tried again (the server's reload may
        not have happened yet)."""
        if auth is None or auth == self.join or "authorization" not in error.lower():
            return auth
        self._refusals += 1
        if not self._started_enrolled or self._refusals < REFUSALS:
            return auth
        self._started_enrolled = False
        retired = self.seed.with_name(self.seed.name + ".revoked")
        self.seed.replace(retired)
        self.creds.unlink(missing_ok=True)
        log.error("the NATS server refuses this host's key: enrolling again with a new key")
        self.connected_as = ""
        return self.join

    def prove(self, request: EnrollRequest) -> EnrollRequest:
        """The enrolment request with the host key and its proof."""
        if not self.enabled:
            return request
        natsauth.create_seed(self.seed)
        return natsauth.prove(request, self.seed)

    def switch_to(self, host_id: str) -> ClientAuth | None:
        """After enrolment: the host identity to reconnect as, or None to keep the bus."""
        if not self.enabled or self.connected_as == host_id:
            return None
        self._started_enrolled = False
        self.connected_as = host_id
        return self._host(host_id)

    def received(self, user_jwt: str) -> None:
        """JWT mode: keep the user JWT the enrolment answered, beside the host's seed."""
        if not self.jwt or not user_jwt:
            return
        text = natsjwt.creds(user_jwt, self.seed.read_bytes().strip())
        tmp = self.creds.with_name(self.creds.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, self.creds)

    def renew_in(self) -> float:
        """Seconds until the host's JWT is half-way to its expiry (an hour if it has none)."""
        try:
            token = self.creds.read_text().split("\n")[1]
            claims = natsjwt.decode_claims(token)
        except (OSError, IndexError, ValueError):
            return 1.0
        if "exp" not in claims:
            return 3600.0
        return max(1.0, (int(claims["exp"]) - time.time()) / 2)

    async def renew(
        self, bus: Bus, host_id: str, request: Callable[[], Awaitable[EnrollRequest]]
    ) -> None:
        """JWT mode: keep the host's user JWT fresh by enrolling again before it expires."""
        while True:
            await asyncio.sleep(self.renew_in())
            try:
                req = self.prove(await request())
                raw = await bus.request(subjects.ENROLL, encode(req), timeout=5.0)
                reply = ENROLL_REPLY_DECODER.decode(raw)
            except (LqError, ValueError) as exc:
                log.warning("renewing host %s's NATS credentials failed: %s", host_id, exc)
                await asyncio.sleep(1.0)
                continue
            if reply.ok and reply.host_id == host_id and reply.user_jwt:
                self.received(reply.user_jwt)
                await bus.reconnect()  # the connection's JWT is the one that expires
            else:
                log.error("renewing host %s's NATS credentials refused: %s", host_id, reply.error)
                await asyncio.sleep(1.0)

    def _host(self, host_id: str) -> ClientAuth:
        return natsauth.host_auth(self.seed, host_id, self.creds if self.jwt else "")
