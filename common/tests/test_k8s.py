"""The StatefulSet patch: statuses, content, idempotency, leadership."""

from __future__ import annotations

from pathlib import Path

import ops
import pytest
from ops import testing

from charmarr_common import k8s
from charmarr_common.errors import CharmarrError, InvalidConfigError, WaitingError
from charmarr_testing.fake_k8s import ADDRESS

META = {"name": "radarr", "containers": {"radarr": {}}}
CONFIG = {"options": {"media-volume": {"type": "string", "default": ""}}}


class Patched(ops.CharmBase):
    """Applies the patch its config asks for, and reports the outcome as its status."""

    net_admin = False

    def __init__(self, framework):
        super().__init__(framework)
        self.patcher = k8s.PodPatcher(self)
        framework.observe(self.on.config_changed, self._reconcile)
        framework.observe(self.on.update_status, self._reconcile)

    def _reconcile(self, _):
        try:
            claim = k8s.media_claim(self)
            self.patcher.ensure(k8s.PodPatch("radarr", claim, net_admin=self.net_admin))
            if claim is None:
                raise k8s.media_volume_unset_error(self)
        except CharmarrError as e:
            self.unit.status = e.status
            return
        self.unit.status = ops.ActiveStatus()


@pytest.fixture
def cluster(fake_network):
    return fake_network.kubernetes


def _run(state, event="config_changed"):
    ctx = testing.Context(Patched, meta=META, config=CONFIG)
    return ctx.run(getattr(ctx.on, event)(), state)


def _state(claim="charmarr-media", leader=True, **kwargs):
    return testing.State(
        leader=leader, config={"media-volume": claim}, model=testing.Model(name="media"), **kwargs
    )


def _mounts(api):
    return api.container("radarr", "radarr").get("volumeMounts", [])


def test_unset_blocks_with_the_fix_and_patches_nothing(cluster):
    out = _run(_state(claim=""))
    assert out.unit_status == testing.BlockedStatus(
        "media-volume unset: create a ReadWriteMany PVC in namespace media, "
        "then juju config radarr media-volume=<pvc>"
    )
    assert cluster.patches == []


def test_set_mounts_the_claim_at_data_once(cluster):
    out = _run(_state())
    assert out.unit_status == testing.ActiveStatus()
    assert len(cluster.patches) == 1
    spec = cluster.live("radarr")["spec"]["template"]["spec"]
    assert {
        "name": "charmarr-media",
        "persistentVolumeClaim": {"claimName": "charmarr-media"},
    } in spec["volumes"]
    assert _mounts(cluster) == [{"name": "charmarr-media", "mountPath": "/data"}]
    cluster.requests.clear()
    again = _run(out, "update_status")
    assert again.unit_status == testing.ActiveStatus()
    assert cluster.requests == []  # steady state: not a single Kubernetes call


def test_a_unit_without_memory_reads_once_and_does_not_repatch(cluster):
    _run(_state())
    cluster.requests.clear()
    _run(_state(), "update_status")  # fresh stored state: a new leader or a restarted pod
    assert [r.method for r in cluster.requests] == ["GET", "GET"]
    assert cluster.patches == []


def test_changed_claim_remounts_and_unset_removes_the_mount(cluster):
    out = _run(_state())
    cluster.pvcs.add("other")
    out = _run(_state(claim="other", stored_states=out.stored_states))
    assert len(cluster.patches) == 2
    claims = [
        v
        for v in cluster.live("radarr")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "charmarr-media"
    ]
    assert claims == [{"name": "charmarr-media", "persistentVolumeClaim": {"claimName": "other"}}]
    out = _run(_state(claim="", stored_states=out.stored_states))
    assert out.unit_status.name == "blocked"
    assert len(cluster.patches) == 3
    assert _mounts(cluster) == []
    assert all(
        v["name"] != "charmarr-media"
        for v in cluster.live("radarr")["spec"]["template"]["spec"]["volumes"]
    )


def test_missing_pvc_names_it_and_the_namespace(cluster):
    cluster.pvcs.discard("nope")
    out = _run(_state(claim="nope"))
    assert out.unit_status == testing.BlockedStatus(
        "PVC nope not found in namespace media: create it (ReadWriteMany) "
        "or juju config radarr media-volume=<pvc>"
    )
    assert cluster.patches == []


def test_no_trust_says_how_to_grant_it(cluster):
    cluster.forbidden = True
    out = _run(_state())
    assert out.unit_status == testing.BlockedStatus(
        "no permission to patch the pod: juju trust radarr --scope=cluster (or deploy with --trust)"
    )


def test_api_down_is_waiting(fake_network):
    fake_network.remove(ADDRESS)
    out = _run(_state())
    assert out.unit_status == testing.WaitingStatus("waiting for the Kubernetes API")


def test_api_error_is_waiting(cluster):
    cluster.fault = "500"
    out = _run(_state())
    assert out.unit_status.name == "waiting"
    assert "Kubernetes API" in out.unit_status.message


def test_only_the_leader_patches(cluster):
    out = _run(_state(leader=False))
    assert cluster.requests == []
    assert out.unit_status == testing.ActiveStatus()


def test_invalid_name_blocks_naming_the_option(cluster):
    out = _run(_state(claim="Not A PVC"))
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith("invalid media-volume 'Not A PVC'")
    assert cluster.requests == []


def test_net_admin_adds_the_capability_and_the_tun_device(cluster):
    Patched.net_admin = True
    try:
        _run(_state())
    finally:
        Patched.net_admin = False
    radarr = next(
        c
        for c in cluster.live("radarr")["spec"]["template"]["spec"]["containers"]
        if c["name"] == "radarr"
    )
    assert radarr["securityContext"] == {"capabilities": {"add": ["NET_ADMIN"]}}
    assert {"name": "charmarr-tun", "mountPath": "/dev/net/tun"} in radarr["volumeMounts"]
    tun = [
        v
        for v in cluster.live("radarr")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "charmarr-tun"
    ]
    assert tun == [
        {"name": "charmarr-tun", "hostPath": {"path": "/dev/net/tun", "type": "CharDevice"}}
    ]
    live = cluster.live("radarr")
    assert k8s.PodPatch("radarr", "charmarr-media", net_admin=True).is_applied_in(live)
    assert not k8s.PodPatch("radarr", "charmarr-media").is_applied_in(live)
    assert not k8s.PodPatch("plex", None).is_applied_in(live)


def test_service_account_token_and_ca_are_used(tmp_path, fake_network):
    import certifi

    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "ca.crt").write_text(Path(certifi.where()).read_text())  # a real PEM bundle
    api = k8s.KubernetesApi("media", account=tmp_path)
    fake = fake_network.kubernetes
    fake.token = "tok"
    assert api.pvc_exists("x") is False
    assert fake.requests[0].headers["Authorization"] == "Bearer tok"
    assert fake.requests[0].cafile == str(tmp_path / "ca.crt")


def test_errors_are_typed():
    assert issubclass(InvalidConfigError, CharmarrError)
    assert WaitingError("x").status.name == "waiting"
