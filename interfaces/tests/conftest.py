"""Fixtures for the interfaces package's tests."""

from __future__ import annotations

import pytest
from dummy_charm import ACTIONS, CONFIG, META, DummyCharm
from ops import testing


@pytest.fixture
def ctx() -> testing.Context[DummyCharm]:
    DummyCharm.workload_keys = []
    DummyCharm.refuse_rotation = False
    return testing.Context(DummyCharm, meta=META, config=CONFIG, actions=ACTIONS)
