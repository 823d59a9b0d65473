"""Restart hygiene: Gluetun restarts only when what it reads at start changed, once."""

from __future__ import annotations

import dataclasses

from ops import testing

from charmarr_testing import builders


def _gluetun_restarts(spy) -> list:
    """Pebble calls that (re)start Gluetun: a restart, or a replan of its container."""
    return [
        e
        for e in spy.pebble()
        if e[0] == "gluetun" and (e[1] in ("restart", "replan") or e[1] == "start")
    ]


def test_one_relation_change_restarts_gluetun_at_most_once(gw, spy):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())
    starts = gw.fake.starts
    relation = builders.vpn_gateway_from_requirer(remote_app="sabnzbd", relation_id=11).relation
    spy.clear()

    # What `juju integrate` fires on Gluetun: created, joined, changed.
    state = dataclasses.replace(out, relations=[relation])
    for emit in ("relation_created", "relation_joined", "relation_changed"):
        relation = state.get_relation(relation.id)
        state = gw.ctx.run(getattr(gw.ctx.on, emit)(relation), state)

    assert len(_gluetun_restarts(spy)) == 1
    assert gw.fake.starts == starts + 1
    # Gluetun learned the new role only by that restart (it reads roles at start).
    key = next(s for s in state.secrets if s.label == "gluetun-control-11")
    assert gw.fake.role_of(key.latest_content["api-key"]) is not None
    assert isinstance(state.unit_status, testing.ActiveStatus)

    # Removing it: one restart again (the role goes).
    spy.clear()
    gone = gw.ctx.run(gw.ctx.on.relation_broken(state.get_relation(relation.id)), state)
    gone = dataclasses.replace(gone, relations=[])
    gone = gw.ctx.run(gw.ctx.on.update_status(), gone)
    assert len(_gluetun_restarts(spy)) == 1
    assert gw.fake.role_of(key.latest_content["api-key"]) is None


def test_settings_and_roles_changed_in_one_hook_restart_once(gw, spy):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())
    relation = builders.vpn_gateway_from_requirer(relation_id=12).relation
    spy.clear()

    changed = dataclasses.replace(
        out,
        relations=[relation],
        config={**out.config, "server-countries": "Sweden", "cluster-cidrs": "10.0.0.0/8"},
    )
    gw.ctx.run(gw.ctx.on.config_changed(), changed)

    assert len(_gluetun_restarts(spy)) == 1
    assert ("socks5", "restart", "socks5") not in spy.log


def test_gluetun_gets_time_to_tear_down_and_starts_clean(gw):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())

    service = out.get_container("gluetun").plan.services["gluetun"]
    # Longer than Gluetun's own 5 s shutdown grace period.
    assert service.kill_delay == "10s"
    # Stale `ip rule`s of table 51820 go before Gluetun starts (gluetun wiki, Kubernetes).
    assert service.command.startswith("/bin/sh -c '")
    assert "ip rule del table 51820" in service.command
    assert "ip -6 rule del table 51820" in service.command
    assert service.command.endswith("exec /gluetun-entrypoint'")
