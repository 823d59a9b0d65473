"""Every charm's charmcraft.yaml, validated by charmcraft's own models and held to the contract.

``charmcraft pack`` cannot run on every host, so this is how a bad charmcraft.yaml fails
fast: ``CharmcraftProject.unmarshal`` checks the top level (name, base, platforms, parts),
``JujuConfig`` checks option types, and ``ops.CharmMeta`` parses relations, containers and
storage the way the charm will see them at run time.
"""

from __future__ import annotations

from pathlib import Path

import ops
import pytest
import yaml
from contract import CHARMS

ROOT = Path(__file__).resolve().parents[2]


def _load(charm: str) -> dict:
    path = ROOT / "charms" / charm / "charmcraft.yaml"
    assert path.is_file(), f"charms/{charm}/charmcraft.yaml is missing"
    return yaml.safe_load(path.read_text())


@pytest.fixture(params=sorted(CHARMS), name="charm")
def _charm(request) -> str:
    return request.param


@pytest.fixture(autouse=True, scope="module")
def _charmcraft_plugins():
    """Register charmcraft's own part plugins (``charm``), as charmcraft does at start-up."""
    from charmcraft.parts import setup_parts

    setup_parts()


def test_charmcraft_accepts_the_project(charm):
    from charmcraft.models.project import CharmcraftProject

    project = CharmcraftProject.unmarshal(_load(charm))
    assert project.name == CHARMS[charm]["name"]
    assert project.base == "ubuntu@24.04"


def test_config_options_are_valid_juju_config_and_exactly_the_contract(charm):
    from charmcraft.models.config import JujuConfig

    raw = _load(charm).get("config", {"options": {}})
    config = JujuConfig.unmarshal(raw)
    options = config.options or {}
    assert set(options) == set(CHARMS[charm]["config"]), "config options differ from contract"
    for name, (kind, default) in CHARMS[charm]["config"].items():
        option = raw["options"][name]
        assert option["type"] == kind, name
        assert option.get("default") == default, name
        assert option.get("description"), f"{name} needs a description"


def test_relations_containers_and_storage_as_the_contract_says(charm):
    raw = _load(charm)
    meta = ops.CharmMeta(raw, actions_raw=raw.get("actions"))
    spec = CHARMS[charm]
    for side, declared in (("provides", meta.provides), ("requires", meta.requires)):
        assert set(declared) == set(spec[side]), f"{side} differ from contract"
        for endpoint, limit in spec[side].items():
            assert declared[endpoint].interface_name == endpoint
            assert declared[endpoint].limit == limit, f"{endpoint} limit"
    assert spec["container"] in meta.containers
    container = meta.containers[spec["container"]]
    assert container.resource, "workload container needs an OCI resource"
    resource = meta.resources[container.resource]
    assert resource.type == "oci-image"
    image = raw["resources"][container.resource]["upstream-source"]
    assert ":" in image and not image.endswith(":latest"), "pin the image tag"
    assert set(meta.actions) == spec["actions"]
    assert sorted(raw["assumes"], key=str) == sorted(["juju >= 3.6", "k8s-api"], key=str)


def test_actions_documented(charm):
    for name, action in (_load(charm).get("actions") or {}).items():
        assert action.get("description"), f"action {name} needs a description"


def test_pack_uses_the_staged_requirements(charm):
    """`tox -e pack` stages requirements.txt and lib/ (tools/stage.py); the part must use them."""
    from charmcraft.models.project import CharmcraftProject

    project = CharmcraftProject.unmarshal(_load(charm))
    part = project.parts["charm"]
    assert isinstance(part, dict)
    assert part["plugin"] == "charm"
    assert part["charm-requirements"] == ["requirements.txt"]
    assert part["charm-strict-dependencies"] is True
    assert set(part["charm-binary-python-packages"]) <= {"pydantic-core", "pyyaml"}


def test_charmcraft_yaml_is_the_only_metadata(charm):
    """A stray metadata.yaml, config.yaml or actions.yaml would conflict at pack time."""
    for name in ("metadata.yaml", "config.yaml", "actions.yaml"):
        assert not (ROOT / "charms" / charm / name).exists(), f"charms/{charm}/{name}"
