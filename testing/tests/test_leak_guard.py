"""The leak guard catches a deliberately leaking charm on every surface it watches."""

from __future__ import annotations

import logging

import ops
import pytest
from ops import testing

from charmarr_testing.pytest_plugin import SecretLeakError

SECRET = "hunter2-hunter2-hunter2"
META = {
    "name": "leaky",
    "containers": {"app": {}},
    "provides": {"media-indexer": {"interface": "media-indexer"}},
}
ACTIONS = {"show": {}, "fail": {}}
logger = logging.getLogger(__name__)


class Leaky(ops.CharmBase):
    """Leaks the secret content wherever ``mode`` says."""

    mode = ""

    def __init__(self, framework):
        super().__init__(framework)
        framework.observe(self.on.update_status, self._on_update_status)
        framework.observe(self.on.show_action, self._on_show)
        framework.observe(self.on.fail_action, self._on_fail)

    def _on_show(self, event):
        event.set_results({"value": self._value()})

    def _on_fail(self, event):
        event.fail(f"bad {self._value()}")

    def _value(self):
        return self.model.get_secret(label="mine").get_content()["password"]

    def _on_update_status(self, _):
        value = self._value()
        if self.mode == "log":
            logger.info("password is %s", value)
        elif self.mode == "status":
            self.unit.status = ops.BlockedStatus(f"wrong password {value}")
        elif self.mode == "app-status":
            self.app.status = ops.ActiveStatus(value)
        elif self.mode == "databag":
            self.model.get_relation("media-indexer").data[self.app]["password"] = value
        elif self.mode == "env":
            self.unit.get_container("app").add_layer(
                "app",
                {
                    "services": {
                        "app": {
                            "override": "replace",
                            "command": "x",
                            "environment": {"PASSWORD": value},
                        }
                    }
                },
            )
        elif self.mode == "exception":
            raise RuntimeError(f"could not log in with {value}")


def _run(mode, event="update_status"):
    Leaky.mode = mode
    ctx = testing.Context(Leaky, meta=META, actions=ACTIONS)
    secret = testing.Secret({"password": SECRET}, label="mine", owner="app")
    relation = testing.Relation("media-indexer")
    state = testing.State(
        leader=True,
        secrets={secret},
        relations={relation},
        containers={testing.Container("app", can_connect=True)},
    )
    trigger = ctx.on.update_status() if event == "update_status" else ctx.on.action(event)
    return ctx.run(trigger, state)


@pytest.mark.parametrize("mode", ["log", "status", "app-status", "databag", "env", "exception"])
def test_guard_catches_each_surface(mode):
    with pytest.raises(SecretLeakError) as caught:
        _run(mode)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("action", ["show", "fail"])
def test_guard_catches_action_results_and_failures(action):
    with pytest.raises(SecretLeakError):
        _run("", event=action)


def test_a_clean_run_passes():
    out = _run("")
    assert out.get_secret(label="mine").latest_content == {"password": SECRET}


@pytest.mark.leaks_allowed
def test_opting_out_is_explicit_and_visible():
    out = _run("status")
    assert SECRET in out.unit_status.message
