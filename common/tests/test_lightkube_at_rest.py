"""A converged hook imports nothing of lightkube: every charm, importing and update-status.

Each real hook is a new process, so this runs in one: every charm's ``src/charm.py`` is
imported and converged from its wired state (those hooks may patch the StatefulSet and
import lightkube), then lightkube and httpx2 are dropped from ``sys.modules`` and one more
update-status runs: any import of them on that path puts them back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
import charms_under_test, hook_cost
from charmarr_common.http import use_transport
from charmarr_testing.fakes import FakeNetwork

HEAVY = ("lightkube", "httpx2", "httpcore2")
charm = sys.argv[1]
hook_cost.hook_environment()  # the pod's service account, as in the tests' own process
charms_under_test.load_charm(charm)  # src/charm.py and all it imports
at_import = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
network = FakeNetwork()
with use_transport(network):
    state, _ = charms_under_test.wired_state(charm, network, leader=True)
    ctx = charms_under_test.context(charm)
    state = ctx.run(ctx.on.config_changed(), state)
    for _ in range(2):
        state = ctx.run(ctx.on.update_status(), state)
    for name in [m for m in sys.modules if m.split(".")[0] in HEAVY]:
        del sys.modules[name]
    before = len(network.kubernetes.requests)
    out = ctx.run(ctx.on.update_status(), state)
print(json.dumps({
    "at_import": at_import,
    "imported": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY),
    "api_calls": len(network.kubernetes.requests) - before,
    "status": out.unit_status.name,
}))
"""


def _charms() -> list[str]:
    from charms_under_test import charm_dirs

    return sorted(charm_dirs())


def test_no_charm_imports_lightkube_or_calls_the_api_in_a_converged_update_status():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    found = {}
    for charm in _charms():
        result = subprocess.run(
            [sys.executable, "-c", PROBE, charm],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        found[charm] = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(found) == 7, found
    for charm, seen in found.items():
        assert seen["at_import"] == [], (charm, seen)
        assert seen["imported"] == [], (charm, seen)
        assert seen["api_calls"] == 0, (charm, seen)
