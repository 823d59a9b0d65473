"""Fixtures for the contract's tests: ``ctx`` runs the dummy charm (common/tests)."""

from dummy_charm import ctx  # noqa: F401 (a fixture)
