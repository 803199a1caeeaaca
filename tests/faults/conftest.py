"""The in-process stack of tests/integration, for the schema fuzzing and hostile-input tests."""

from tests.integration.conftest import make_stack

__all__ = ["make_stack"]
