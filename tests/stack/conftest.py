"""The whole-stack tests: the harness module lives beside them."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import Stack


@pytest.fixture
def stack(tmp_path: Path):
    """An empty model with Juju, the network and the workload fakes in place."""
    with Stack.open(tmp_path) as juju:
        yield juju
