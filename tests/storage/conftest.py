"""The storage tests use the integration tier's whole stack (``make_stack``)."""

from __future__ import annotations

from tests.integration.conftest import make_stack

__all__ = ["make_stack"]
