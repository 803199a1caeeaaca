"""Fixtures of the read-model tests: a fresh database with the read-model schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from projections import schema


@pytest.fixture
async def conn(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection whose search path is a freshly created ``lq`` read model."""
    c = await psycopg.AsyncConnection.connect(pg_url)
    try:
        await schema.create(c, "lq")
        await schema.use_schema(c, "lq")
        yield c
    finally:
        await c.close()
