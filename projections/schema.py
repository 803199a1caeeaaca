"""Where the read model lives: DDL, the projection version, locks and the checkpoint.

The read model is disposable. Its tables are created from ``sql/schema.sql`` into one
PostgreSQL schema (``settings.db_schema``); a schema change bumps ``VERSION`` and the
projector then rebuilds beside the old tables and switches (see ``projections.rebuild``),
never migrating by hand. All read-model SQL elsewhere is unqualified and resolved through
the connection's ``search_path`` (``use_schema``), so the same code folds into the live
schema or into a scratch schema during a rebuild.

Two advisory locks, both keyed by the live schema's name:

* the *projector* lock (session level) makes one projector active per database; a second
  instance waits for it;
* the *apply* lock (transaction level) is taken by every batch transaction and by the
  rebuild's swap, so a swap never interleaves with a batch.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Literal

import psycopg

log = logging.getLogger(__name__)

VERSION = 5
"""Bump on any change to the tables or to the fold rules: it triggers a rebuild."""

CHECKPOINT = "read_model"
"""Name of the projection's row in the ``checkpoint`` table."""

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")

Conn = psycopg.AsyncConnection[Any]


def validate(schema: str) -> str:
    """The schema name if it is a plain lower-case identifier (it is spliced into DDL)."""
    if not _IDENT.match(schema):
        raise ValueError(f"invalid read-model schema name {schema!r}")
    return schema


def _ddl(schema: str, trgm_ns: str | None) -> str:
    text = (Path(__file__).parent / "sql" / "schema.sql").read_text()
    trgm = ""
    if trgm_ns:
        ops = f'"{trgm_ns}".gin_trgm_ops'
        trgm = (
            f"CREATE INDEX IF NOT EXISTS vms_name_trgm_idx ON {{schema}}.vms"
            f" USING gin (name {ops});\n"
            f"CREATE INDEX IF NOT EXISTS vms_id_trgm_idx ON {{schema}}.vms USING gin (id {ops});\n"
            f"CREATE INDEX IF NOT EXISTS hosts_name_trgm_idx ON {{schema}}.hosts"
            f" USING gin (name {ops});\n"
        )
    return text.replace("{trgm}", trgm).replace("{schema}", validate(schema))


async def _trigram_schema(conn: Conn) -> str | None:
    """The schema holding pg_trgm, installing it when the server has it; None without it."""
    cur = await conn.execute(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    )
    row = await cur.fetchone()
    if row:
        return str(row[0])
    cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    if await cur.fetchone() is None:
        return None
    try:
        async with conn.transaction():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except psycopg.Error as exc:  # no privilege: substring search falls back to ILIKE scans
        log.warning("pg_trgm is available but could not be installed: %s", exc)
        return None
    return await _trigram_schema(conn)


async def create(conn: Conn, schema: str) -> None:
    """Create the read-model tables in ``schema`` (idempotent) and stamp the version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["lq.ddl." + schema])
        trgm = await _trigram_schema(conn)
        await conn.execute(_ddl(schema, trgm).encode())
        await conn.execute(
            f"INSERT INTO {schema}.meta (key, value) VALUES ('version', %s)"
            " ON CONFLICT (key) DO NOTHING",
            [str(VERSION)],
        )
        await conn.execute(
            f"INSERT INTO {schema}.checkpoint (name, seq) VALUES (%s, 0)"
            " ON CONFLICT (name) DO NOTHING",
            [CHECKPOINT],
        )


async def version(conn: Conn, schema: str) -> int | None:
    """The projection version stamped in ``schema``, None when it has no read model."""
    async with conn.transaction():
        cur = await conn.execute("SELECT to_regclass(%s)", [validate(schema) + ".meta"])
        row = await cur.fetchone()
        if row is None or row[0] is None:
            return None
        cur = await conn.execute(f"SELECT value FROM {schema}.meta WHERE key = 'version'")
        found = await cur.fetchone()
    return int(found[0]) if found else 0


async def ensure(conn: Conn, schema: str) -> Literal["created", "current", "outdated"]:
    """Create the read model when missing; report whether an existing one is outdated."""
    found = await version(conn, schema)
    if found is None:
        await create(conn, schema)
        log.info("created read model in schema %s (version %d)", schema, VERSION)
        return "created"
    return "current" if found == VERSION else "outdated"


async def use_schema(conn: Conn, schema: str, *, local: bool = False) -> None:
    """Resolve unqualified read-model names in ``schema`` on this connection.

    ``local=True`` limits it to the current transaction (used inside the rebuild swap).
    """
    await conn.execute("SELECT set_config('search_path', %s, %s)", [validate(schema), local])
    if not local and not conn.autocommit:
        await conn.commit()


APPLY_LOCK = "SELECT pg_advisory_xact_lock(hashtext('lq.apply.' || %s))"
"""Transaction-level lock shared by batch transactions and the rebuild swap."""
APPLY_LOCK_HERE = "SELECT pg_advisory_xact_lock(hashtext('lq.apply.' || current_schema()))"
"""The same lock for the schema first on the connection's search path."""


async def try_projector_lock(conn: Conn, schema: str) -> bool:
    """Try to become the active projector for ``schema`` (session lock, autocommit conn)."""
    cur = await conn.execute(
        "SELECT pg_try_advisory_lock(hashtext('lq.projector.' || %s))", [validate(schema)]
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def checkpoint(conn: Conn) -> int:
    """Last stream sequence applied to the schema on the connection's search path."""
    cur = await conn.execute("SELECT seq FROM checkpoint WHERE name = %s", [CHECKPOINT])
    row = await cur.fetchone()
    return int(row[0]) if row else 0
