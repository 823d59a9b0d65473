"""The whole-stack tests: the harness' modules live beside them (see stack.py).

Deploying the whole bundle takes about a hundred hooks, so it is done once per session
(``charmarr``); each test that starts from the deployed stack gets a copy of it with its
files restored (``deployed``) and may change it freely.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from guide import deploy_charmarr, restore, snapshot
from stack import Stack


@pytest.fixture
def stack(tmp_path: Path):
    """An empty model with Juju, the network and the workload fakes in place."""
    with Stack.open(tmp_path) as juju:
        yield juju
    assert juju.violations == []


@pytest.fixture(scope="session")
def charmarr(tmp_path_factory: pytest.TempPathFactory):
    """bundle.yaml deployed with the user secrets granted, converged: (stack, files, URIs)."""
    root = tmp_path_factory.mktemp("charmarr")
    with Stack.open(root) as juju:
        uris = deploy_charmarr(juju)
    files = tmp_path_factory.mktemp("charmarr-files")
    snapshot(root, files)
    return juju, files, uris


@pytest.fixture
def deployed(charmarr):
    """A copy of the deployed stack, ready to be changed; checked for violations at the end."""
    template, files, _ = charmarr
    restore(template.root, files)
    with Stack.open(template.root, template=template) as juju:
        yield juju
    assert juju.violations == []
