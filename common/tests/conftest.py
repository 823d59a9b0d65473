"""Fixtures for the shared charm code's tests: ``ctx`` runs the dummy charm."""

from dummy_charm import ctx  # noqa: F401 (a fixture)
