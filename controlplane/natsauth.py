"""The controlplane's half of per-host NATS users: admit a host's key, revoke it, reload.

At enrolment the agent presents the public key of the nkey it generated and a signature
made with it (``events.natsauth.enroll_proof_payload``). A host keeps its first key
(stored in ``lq_credentials`` as ``nats-host.<host id>``, never in an event): a second
enrolment of the same host must prove the same key, so a holder of the join credential
cannot take over an enrolled host; a key belongs to one host only. Every change rewrites
the embedded nats-server's ``auth.conf`` from the bucket and makes the server reload it
(SIGHUP through its pid file); a revoked host's connections are closed by that reload.

In JWT mode (``nats_auth = "jwt"``, servers in operator mode configured elsewhere) the
same bookkeeping holds, but nothing is written or reloaded: ``user_jwt`` signs the host's
user JWT with the account key, the enrolment answer carries it, and the servers verify it
themselves. A revocation there only forgets the key (docs/security.md says what is left).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from events import natsauth as na
from events import natsjwt
from events import reports as rp
from events.bus import Bus
from events.settings import Settings

log = logging.getLogger(__name__)


class HostKeys:
    def __init__(self, bus: Bus, settings: Settings) -> None:
        self.bus = bus
        self.settings = settings
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return na.per_host(self.settings)

    def user_jwt(self, host_id: str, nkey: str) -> str:
        """JWT mode: the host's user JWT (its own subjects only), signed by the account."""
        if not na.jwt_mode(self.settings):
            return ""
        seed = Path(self.settings.nats_account_seed_file).read_bytes().strip()
        return natsjwt.user_jwt(
            seed,
            nkey,
            host_id,
            na.host_permissions(host_id),
            ttl_s=self.settings.nats_host_jwt_ttl_s,
        )

    async def admit(self, host_id: str, req: rp.EnrollRequest) -> str | None:
        """Register (or confirm) the key ``req`` presents for ``host_id``; the reason it
        is refused, or None. Makes the server accept the key before answering."""
        if not na.valid_host_id(host_id):
            return "a host id must be one subject token ([A-Za-z0-9_-], at most 64)"
        if not req.nkey or not req.nkey_proof:
            return "this controlplane requires a host key (nkey) and its proof at enrolment"
        if not na.verify(req.nkey, na.enroll_proof_payload(req), req.nkey_proof):
            log.warning("enrolment of %s as host %s refused: bad key proof", req.name, host_id)
            return "the key proof does not verify"
        async with self._lock:
            keys = await self._keys()
            current = keys.get(host_id)
            if current is not None and current != req.nkey:
                log.warning(
                    "enrolment of %s as host %s refused: it presents another key than the "
                    "host's (revoke the host's credentials to give it a new one)",
                    req.name,
                    host_id,
                )
                return "this host is enrolled with another key; revoke its credentials first"
            owner = next((h for h, k in keys.items() if k == req.nkey and h != host_id), None)
            if owner is not None:
                return "this key belongs to another host"
            if current is None:
                await self.bus.put_credential(na.HOST_KEY_PREFIX + host_id, req.nkey.encode())
                keys[host_id] = req.nkey
                log.info("host %s (%s) has its own NATS user now", req.name, host_id)
            await self.bus.ensure_orders_consumer(host_id)
            self._apply(keys)
        return None

    async def revoke(self, host_id: str) -> None:
        """Forget the host's key: its connections are closed and it must enrol again."""
        async with self._lock:
            await self.bus.delete_credential(na.HOST_KEY_PREFIX + host_id)
            keys = await self._keys()
            keys.pop(host_id, None)
            self._apply(keys)
        log.warning("NATS credentials of host %s revoked", host_id)

    async def sync(self) -> None:
        """Write the include file from the bucket (on start: it may lag behind a crash)."""
        async with self._lock:
            self._apply(await self._keys())

    async def _keys(self) -> dict[str, str]:
        stored = await self.bus.credentials(na.HOST_KEY_PREFIX)
        return {k[len(na.HOST_KEY_PREFIX) :]: v.decode() for k, v in stored.items()}

    def _apply(self, keys: dict[str, str]) -> None:
        auth = na.service_auth(self.settings)
        if auth is None or na.jwt_mode(self.settings):
            return  # JWT mode: the servers verify each host's JWT; nothing to reload
        directory = na.nats_dir(self.settings)
        text = na.render(
            na.public_key(auth.seed_file),
            na.public_key(na.enroll_auth(self.settings).seed_file),
            keys,
        )
        na.write_conf(directory / na.AUTH_CONF, text)
        if not na.reload_server(directory / na.PID_FILE):
            log.error("cannot make nats-server reload %s", directory / na.AUTH_CONF)
