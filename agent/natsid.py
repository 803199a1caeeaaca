"""The agent's NATS identity when hosts have their own NATS users (docs/security.md).

The agent generates its host key itself (``<state dir>/nats-host.nk``, mode 0600: the seed
never leaves the host) and presents its public key, signed, at enrolment. Before it has a
host id it connects with the join credential (the enrolment user, which may only ask
``lq.enroll``), then reconnects as its host user; a restarted agent connects as its host
user at once. When the server refuses that key (the host's credentials were revoked), the
agent sets the old seed aside, makes a new one and enrols again with the join credential —
the controlplane accepts the new key only for a host that has none.
"""

from __future__ import annotations

import logging
from pathlib import Path

from events import natsauth
from events.natsauth import ClientAuth
from events.reports import EnrollRequest
from events.settings import Settings

log = logging.getLogger(__name__)

REFUSALS = 3  # refusals of a restarted agent's key before it enrols with a new one


class AgentIdentity:
    def __init__(self, settings: Settings, state_dir: Path) -> None:
        self.enabled = natsauth.enabled(settings)
        self.seed = state_dir / natsauth.HOST_SEED
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
        if known and self.seed.is_file():
            self.connected_as = known
            self._started_enrolled = True
            return natsauth.host_auth(self.seed, known)
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
        return natsauth.host_auth(self.seed, host_id)
