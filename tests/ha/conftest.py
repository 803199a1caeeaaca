"""HA tests use the operations tests' real-process deployment and the in-process stack."""

from tests.integration.conftest import make_stack
from tests.operate.conftest import deployment

__all__ = ["deployment", "make_stack"]
