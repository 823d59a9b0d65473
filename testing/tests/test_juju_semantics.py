"""The Juju semantics layer behaves as the uniter does (juju-semantics.md), not as Scenario."""

from __future__ import annotations

import ops
import pytest
from ops import testing

from charmarr_testing.juju_semantics import leadership, owner_secret_changed

META = {"name": "probe"}
SEEN: dict[str, object] = {}


class ProbeCharm(ops.CharmBase):
    """Sets its secret and reports what each later read returns within the same hook."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.update_status, self._on_update_status)
        framework.observe(self.on.secret_changed, self._on_secret_changed)

    def _on_update_status(self, _: ops.EventBase) -> None:
        secret = self.model.get_secret(label="probe")
        secret.set_content({"key": "new-value-2"})
        SEEN["plain"] = self.model.get_secret(label="probe").get_content()
        SEEN["info"] = self.model.get_secret(label="probe").get_info().revision
        SEEN["peek"] = self.model.get_secret(label="probe").peek_content()
        SEEN["refresh"] = self.model.get_secret(label="probe").get_content(refresh=True)
        secret.set_info(description="metadata only")

    def _on_secret_changed(self, event: ops.SecretChangedEvent) -> None:
        SEEN["changed"] = event.secret.get_content(refresh=True)


def _state(leader: bool = True) -> testing.State:
    secret = testing.Secret({"key": "old-value-1"}, owner="app", label="probe")
    return testing.State(leader=leader, secrets=[secret])


def test_secret_set_is_pending_until_the_hook_ends():
    SEEN.clear()
    ctx = testing.Context(ProbeCharm, meta=META)
    out = ctx.run(ctx.on.update_status(), _state())
    assert SEEN == {
        "plain": {"key": "old-value-1"},
        "info": 1,
        "peek": {"key": "new-value-2"},
        "refresh": {"key": "new-value-2"},
    }
    secret = out.get_secret(label="probe")
    # Committed at the end: one revision (the metadata change made none), now tracked.
    assert secret._latest_revision == 2
    assert secret.latest_content == secret.tracked_content == {"key": "new-value-2"}


@pytest.mark.lenient_secrets
def test_ops_testing_alone_shows_the_new_revision_at_once():
    """What the layer corrects: without it, a plain read in the same hook sees the set."""
    SEEN.clear()
    ctx = testing.Context(ProbeCharm, meta=META)
    ctx.run(ctx.on.update_status(), _state())
    assert SEEN["info"] == 2


def test_a_hook_that_errors_commits_nothing():
    ctx = testing.Context(ProbeCharm, meta=META)
    state = _state()
    with leadership() as lead:
        lead.lose()
        with pytest.raises(testing.errors.UncaughtCharmError):
            ctx.run(ctx.on.update_status(), state)
    assert lead.refused == ["secret-info-get"]  # ops looks the ID up before secret-set
    assert state.get_secret(label="probe")._latest_revision == 1


def test_owner_followers_receive_secret_changed():
    SEEN.clear()
    ctx = testing.Context(ProbeCharm, meta=META)
    state = _state(leader=False)
    ctx.run(owner_secret_changed(state.get_secret(label="probe")), state)
    assert SEEN["changed"] == {"key": "old-value-1"}
