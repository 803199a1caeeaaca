"""The settings tests reuse the integration tests' in-process stack."""

from tests.integration.conftest import make_stack

__all__ = ["make_stack"]
