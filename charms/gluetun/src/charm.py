#!/usr/bin/env python3
"""gluetun-k8s: Charmarr's VPN gateway (Gluetun + a SOCKS5 server in one pod).

One holistic reconcile converges the pod on what Juju holds: the VPN credentials from the
operator's user secret, the proxy credentials and one control-API key per vpn-gateway
relation (secrets this charm owns), and the options. Secrets reach the workloads as
files only. Control keys whose relation is gone are found by listing the roles in the
control server's auth file (ADR-001), never from relation-broken's event data.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import ops
from _gluetun import control, diagnose
from _gluetun.cluster import api_url, discover_cidrs, host_route, needed_addresses
from _gluetun.config import (
    CREDENTIALS_OPTION,
    EXAMPLES,
    OPTIONAL_KEYS,
    REQUIRED_KEYS,
    VPN_TYPES,
    GluetunConfig,
    VpnSettings,
    check_credentials,
    uncovered,
)
from _gluetun.workload import (
    AUTH_FILE,
    CONTROL_PORT,
    GLUETUN,
    HTTP_PROXY_PORT,
    POST_RULES_FILE,
    SECRET_FILES,
    SECRETS_DIR,
    SOCKS5,
    SOCKS5_CONFIG,
    SOCKS5_PORT,
    AuthFile,
    gluetun_files,
    gluetun_layer,
    post_rules,
    socks5_config,
    socks5_layer,
    stamp,
    standby_gluetun_layer,
)
from ops import pebble

from charmarr_common.charm import CharmarrCharm, Report
from charmarr_common.errors import CharmarrError, InvalidConfigError, WaitingError
from charmarr_common.http import WorkloadHttpError, WorkloadUnreachableError
from charmarr_common.k8s import API_URL, KubernetesApi, PodPatch, PodPatcher
from charmarr_common.network_policy import KillSwitch, admit_clients
from charmarr_common.rotation import generate_token
from charmarr_common.workload import ensure_layer, poll, pull_text, service_url
from charmarr_interfaces.secret_ids import (
    OwnedSecret,
    OwnedState,
    grant_and_publish_id,
    read_user_secret,
)
from charmarr_interfaces.vpn_gateway import VpnGatewayProvider

logger = logging.getLogger(__name__)

PROXY_LABEL = "gluetun-proxy-credentials"
CONTROL_LABEL_PREFIX = "gluetun-control-"
ROOT = 0
WORKLOAD_ID = 1000


def control_label(relation_id: int) -> str:
    """The label of the control-key secret made for one vpn-gateway relation."""
    return f"{CONTROL_LABEL_PREFIX}{relation_id}"


def _relation_id_of_label(label: str) -> int | None:
    suffix = label.removeprefix(CONTROL_LABEL_PREFIX)
    return int(suffix) if suffix != label and suffix.isdigit() else None


def _new_proxy_credentials() -> dict[str, str]:
    # A generated user name too: one more thing a leaked log line cannot give away.
    return {"username": f"proxy-{generate_token(4)}", "password": generate_token()}


def _new_control_key() -> dict[str, str]:
    return {"api-key": generate_token()}


@dataclass
class Inputs:
    """Everything reconcile read from Juju in this hook."""

    settings: VpnSettings | None = None
    credentials: dict[str, str] | None = None
    proxy: OwnedState | None = None
    controls: dict[int, OwnedState] = field(default_factory=dict)
    live: list[ops.Relation] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    """Where reading them recorded problems (the hook's report, or a rotation's own)."""

    @property
    def runnable(self) -> bool:
        """Whether Gluetun can be configured (options, VPN and proxy credentials known)."""
        return self.settings is not None and self.credentials is not None and bool(self.proxy)


@dataclass
class Applied:
    """What the workload step found and did."""

    charm_key: str = ""
    gluetun_running: bool = False
    restarted: bool = False
    """Gluetun was (re)started by this apply: its tunnel is on its way up."""


class GluetunCharm(CharmarrCharm):
    """Gluetun and a SOCKS5 server, wired to qBittorrent, SABnzbd and Prowlarr by secret ID."""

    _stored = ops.StoredState()
    config_type = GluetunConfig
    workload = GLUETUN
    ports = (CONTROL_PORT, HTTP_PROXY_PORT, SOCKS5_PORT)

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(derived_cidrs="")
        self.vpn_gateway = VpnGatewayProvider(self)
        self._proxy = OwnedSecret(
            self,
            PROXY_LABEL,
            _new_proxy_credentials,
            description="Credentials of Gluetun's HTTP and SOCKS5 proxies",
        )
        self._pod = PodPatcher(self, _KubernetesApiByAddress)
        self._kill_switch = KillSwitch(self, _KubernetesApiByAddress)
        self.rotate_with(rotate=self._rotate, action_label=PROXY_LABEL)
        self._vpn: control.VpnState | None = None
        self._settings: VpnSettings | None = None
        self._restarted = False
        """Gluetun was (re)started in this hook (by reconcile or a rotation)."""
        # relation-created too: a new relation's control secret is made before it joins.
        framework.observe(self.on["vpn-gateway"].relation_created, self._on_reconcile_event)

    def owned_secrets(self) -> list[OwnedSecret]:
        """The proxy credentials and the control key of each live vpn-gateway relation."""
        return [self._proxy, *(self._control_secret(r.id) for r in self.vpn_gateway.relations)]

    def standby_layers(self) -> dict[str, tuple[str, pebble.LayerDict]]:
        """One tunnel per WireGuard key: a standby stops both Gluetun and the SOCKS5 server."""
        return {GLUETUN: (GLUETUN, standby_gluetun_layer()), SOCKS5: (SOCKS5, socks5_layer())}

    def pebble_problem(self, error: Exception) -> CharmarrError:
        """A Pebble call in the gluetun container failed."""
        if isinstance(error, _PEBBLE_ERRORS):
            return _waiting(GLUETUN, error)
        return super().pebble_problem(error)

    def _vpn_status(self) -> CharmarrError | str:
        """What the tunnel's state says: a problem, or the Active note."""
        vpn, settings = self._vpn, self._settings
        if vpn is not None and vpn.failing:
            return CharmarrError(self._no_traffic(vpn))
        if vpn is not None and vpn.status != "running":
            return WaitingError(f"VPN {vpn.status or 'down'}: waiting for the tunnel")
        if vpn is not None and not vpn.connected:
            return WaitingError("VPN connecting: waiting for its health check")
        if vpn is not None and settings is not None:
            return f"VPN connected via {settings.provider}, public IP {vpn.public_ip}"
        return WaitingError("waiting for Gluetun")

    def _no_traffic(self, vpn: control.VpnState) -> str:
        """The Blocked message for a tunnel that is up but passes nothing."""
        vpn_type = self._settings.vpn_type if self._settings else "wireguard"
        keys = "private-key or addresses" if vpn_type == "wireguard" else "username or password"
        uri = self.config.get(CREDENTIALS_OPTION) or "<secret URI>"
        return (
            f"VPN up but no traffic passes (gluetun: {vpn.health_error}): likely a wrong "
            f"{keys} in {CREDENTIALS_OPTION}; fix it with juju update-secret {uri}"
        )

    # -----------------------------------------------------------------------------------------
    # Reconcile
    # -----------------------------------------------------------------------------------------

    def converge(self, report: Report) -> None:
        """Converge secrets, workload files, layers and relation data on the current state."""
        self._vpn = None
        inputs = self._read_inputs(report)
        # Gluetun manages a tunnel device and the pod's firewall (needs --trust).
        report.attempt(self._pod.ensure, PodPatch(GLUETUN, net_admin=True))
        # Only the related apps' pods reach the proxies and the control server.
        report.attempt(admit_clients, self, self._kill_switch)
        self._settings = inputs.settings
        applied: Applied | None = None
        try:
            applied = self._apply(inputs)
        except CharmarrError as e:
            report.add(e)
        if applied is not None and applied.gluetun_running:
            try:
                self._vpn = self._observe(applied)
            except CharmarrError as e:
                why = diagnose.gluetun(self.unit.get_container(GLUETUN), self.unit.name)
                report.add(why or e)
        self._publish(inputs)
        status = self._vpn_status()
        if isinstance(status, str):
            report.note(status)
        else:
            report.add(status)

    def _observe(self, applied: Applied) -> control.VpnState:
        """Gluetun's VPN state; after a restart, wait (bounded) for the tunnel to settle.

        Raises:
            WaitingError: the control server does not answer (the caller asks Pebble why).
        """
        if not self._restarted:
            return control.vpn_state(applied.charm_key)

        def settled() -> control.VpnState | None:
            try:
                state = control.vpn_state(applied.charm_key)
            except CharmarrError:
                return None
            return state if state.settled else None

        return poll(settled, attempts=10, delay=3.0) or control.vpn_state(applied.charm_key)

    def _read_inputs(self, report: Report) -> Inputs:
        inputs = Inputs(live=self.vpn_gateway.relations, report=report)
        config: GluetunConfig = self.typed_config
        policy = config.rotate
        inputs.settings = config.settings
        # A valid vpn-type says which credentials to check, even with another option wrong.
        vpn_type = config.vpn_type if config.vpn_type in VPN_TYPES else None
        if vpn_type is not None:
            try:
                content = read_user_secret(
                    self,
                    CREDENTIALS_OPTION,
                    REQUIRED_KEYS[vpn_type],
                    example=EXAMPLES[vpn_type],
                    refresh=self.refresh,
                )
                wanted = (*REQUIRED_KEYS[vpn_type], *OPTIONAL_KEYS[vpn_type])
                if inputs.settings is not None:
                    uri = str(self.config.get(CREDENTIALS_OPTION))
                    check_credentials(inputs.settings, content, uri)
                inputs.credentials = {k: content[k] for k in wanted if content.get(k)}
            except CharmarrError as e:
                inputs.report.add(e)
        if inputs.settings is not None:
            try:
                inputs.settings = self._with_cluster(inputs.settings)
            except CharmarrError as e:
                # Started like this, Gluetun would cut the unit off from its controller.
                inputs.settings = None
                inputs.report.add(e)
        try:
            inputs.proxy = self._proxy.ensure(policy)
        except CharmarrError as e:
            inputs.report.add(e)
        for relation in inputs.live:
            try:
                inputs.controls[relation.id] = self._control_secret(relation.id).ensure(policy)
            except CharmarrError as e:
                inputs.report.add(e)
        return inputs

    def _with_cluster(self, settings: VpnSettings) -> VpnSettings:
        """``settings`` with the cluster's networks: configured, or found once in the API.

        Raises:
            InvalidConfigError: they would not cover the controller or the API, naming the
                exact value to set.
        """
        needed = needed_addresses()
        cidrs, derived = settings.cidrs, not settings.cidrs
        if derived:
            stored = str(self._stored.derived_cidrs)
            cidrs = tuple(stored.split(",")) if stored else self._discover_cidrs()
        missing = uncovered(cidrs, needed)
        if cidrs and not missing:
            if derived and not self._stored.derived_cidrs:
                self._stored.derived_cidrs = ",".join(cidrs)
                logger.info("cluster-cidrs unset: using %s from the Kubernetes API", cidrs)
            return dataclasses.replace(settings, cidrs=cidrs)
        listed = "; ".join(f"{what} {', '.join(ips)}" for what, ips in missing.items())
        fix = f"juju config {self.app.name} cluster-cidrs="
        routes = tuple(host_route(ip) for ips in missing.values() for ip in ips)
        if not cidrs:
            covering = f", covering {listed}" if listed else ""
            raise InvalidConfigError(
                "cluster-cidrs unset and not found in the Kubernetes API: "
                f"{fix}<pod CIDR>,<service CIDR>{covering} "
                "(MicroK8s: 10.1.0.0/16,10.152.183.0/24)"
            )
        value = ",".join(dict.fromkeys((*cidrs, *routes)))
        if derived:
            raise InvalidConfigError(
                f"cluster-cidrs unset and the cluster's networks miss {listed}: {fix}{value}"
            )
        raise InvalidConfigError(f"cluster-cidrs must cover {listed}: {fix}{value}")

    def _discover_cidrs(self) -> tuple[str, ...]:
        """The cluster's networks from the Kubernetes API (only while they are unknown)."""
        try:
            return discover_cidrs(_KubernetesApiByAddress(self.model.name))
        except (WorkloadUnreachableError, WorkloadHttpError) as e:
            logger.info("could not read the cluster's networks: %s", e.message)
            return ()

    def _control_secret(self, relation_id: int) -> OwnedSecret:
        return OwnedSecret(
            self,
            control_label(relation_id),
            _new_control_key,
            description=f"Gluetun control-server key for vpn-gateway relation {relation_id}",
        )

    def _owned_secret(self, label: str) -> OwnedSecret | None:
        """The owned secret ``label`` names, for rotation and pruning (live relations only)."""
        if label == PROXY_LABEL:
            return self._proxy
        relation_id = _relation_id_of_label(label)
        if relation_id is None:
            return None
        if relation_id not in {r.id for r in self.vpn_gateway.relations}:
            return None
        return self._control_secret(relation_id)

    # -----------------------------------------------------------------------------------------
    # Workload
    # -----------------------------------------------------------------------------------------

    def _apply(
        self,
        inputs: Inputs,
        *,
        proxy: dict[str, str] | None = None,
        control_keys: dict[int, str] | None = None,
    ) -> Applied:
        """Write files and layers for ``inputs`` (``proxy``/``control_keys`` override them).

        Restarts a service only when its files changed; removes the control secrets and
        roles of relations that are gone. The auth file goes last: its stamps record what
        was written, so a hook that fails half-way writes again next time.

        Raises:
            WaitingError: a container is not reachable yet.
        """
        gluetun = self.unit.get_container(GLUETUN)
        socks = self.unit.get_container(SOCKS5)
        try:
            current_text = pull_text(gluetun, AUTH_FILE)
            gluetun_plan = gluetun.get_plan()
        except _PEBBLE_ERRORS as e:
            raise _waiting(GLUETUN, e) from None
        current = AuthFile.parse(current_text)
        self._remove_orphans(current, inputs)

        relation_keys = {rid: st.content.get("api-key", "") for rid, st in inputs.controls.items()}
        relation_keys.update(control_keys or {})
        wanted = AuthFile(
            charm_key=current.charm_key or generate_token(),
            relation_keys={rid: key for rid, key in relation_keys.items() if key},
            stamps=dict(current.stamps),
        )
        roles_changed = (wanted.charm_key, wanted.relation_keys) != (
            current.charm_key,
            current.relation_keys,
        )
        proxy = proxy or (inputs.proxy.content if inputs.proxy else None)
        result = Applied(charm_key=wanted.charm_key)

        layer: pebble.LayerDict | None = None
        gluetun_changed = False
        try:
            if inputs.settings is not None and inputs.credentials is not None and proxy:
                files = gluetun_files(inputs.settings, inputs.credentials, proxy)
                layer = gluetun_layer(inputs.settings, files, self.meta.containers)
                rules = post_rules(inputs.settings)
                # Everything Gluetun reads only at start, so a change means one restart.
                digest = stamp({**files, POST_RULES_FILE: rules})
                if GLUETUN not in gluetun_plan.services or current.stamps.get(GLUETUN) != digest:
                    self._push_gluetun_files(gluetun, files)
                    gluetun.push(
                        POST_RULES_FILE, rules, make_dirs=True, user_id=ROOT, group_id=ROOT
                    )
                    wanted.stamps[GLUETUN] = digest
                    gluetun_changed = True
            result.gluetun_running = layer is not None or GLUETUN in gluetun_plan.services
        except _PEBBLE_ERRORS as e:
            raise _waiting(GLUETUN, e) from None

        # The SOCKS5 server only runs behind a configured Gluetun, whose firewall keeps its
        # traffic in the tunnel.
        socks_plan: pebble.Plan | None = None
        socks_changed = False
        if result.gluetun_running and proxy:
            config = socks5_config(proxy)
            digest = stamp({"3proxy.cfg": config})
            try:
                socks_plan = socks.get_plan()
                if SOCKS5 not in socks_plan.services or current.stamps.get(SOCKS5) != digest:
                    socks.push(
                        SOCKS5_CONFIG,
                        config,
                        make_dirs=True,
                        permissions=0o600,
                        user_id=WORKLOAD_ID,
                        group_id=WORKLOAD_ID,
                    )
                    wanted.stamps[SOCKS5] = digest
                    socks_changed = True
            except _PEBBLE_ERRORS as e:
                raise _waiting(SOCKS5, e) from None

        try:
            text = wanted.render()
            if text != current_text:
                gluetun.push(
                    AUTH_FILE, text, make_dirs=True, permissions=0o600, user_id=ROOT, group_id=ROOT
                )
            # One restart at most: a replan restarts Gluetun with everything written above.
            if layer is not None:
                replanned = ensure_layer(gluetun, GLUETUN, layer, plan=gluetun_plan)
                if (gluetun_changed or roles_changed) and not replanned:
                    gluetun.restart(GLUETUN)
                result.restarted = replanned or gluetun_changed or roles_changed
                self._restarted |= result.restarted
            elif result.gluetun_running and roles_changed:
                # Options or credentials are unusable: the last good configuration keeps
                # running, but a new or removed role still needs the auth file reloaded.
                gluetun.restart(GLUETUN)
                result.restarted = self._restarted = True
        except _PEBBLE_ERRORS as e:
            raise _waiting(GLUETUN, e) from None

        if socks_plan is not None:
            try:
                replanned = ensure_layer(socks, SOCKS5, socks5_layer(), plan=socks_plan)
                if socks_changed and not replanned:
                    socks.restart(SOCKS5)
            except _PEBBLE_ERRORS as e:
                raise _waiting(SOCKS5, e) from None
        return result

    def _push_gluetun_files(self, gluetun: ops.Container, files: dict[str, str]) -> None:
        for name, content in files.items():
            gluetun.push(
                f"{SECRETS_DIR}/{name}",
                content,
                make_dirs=True,
                permissions=0o600,
                user_id=ROOT,
                group_id=ROOT,
            )
        # Files of the other vpn-type (or optional keys the secret no longer holds) go, so
        # that no stale credential stays on disk or is picked up from a default path.
        stale = set(SECRET_FILES.values()) - set(files)
        for info in gluetun.list_files(SECRETS_DIR):
            if info.name in stale:
                gluetun.remove_path(info.path)

    def _remove_orphans(self, current: AuthFile, inputs: Inputs) -> None:
        """Delete control secrets whose relation is gone (leader); their roles go with them.

        The auth file's roles are the record of which relations got a key; a relation
        that is no longer live loses its role (every unit) and its secret (leader).
        """
        live = {r.id for r in inputs.live}
        for relation_id in sorted(set(current.relation_keys) - live):
            if self.unit.is_leader():
                try:
                    if self._control_secret(relation_id).remove():
                        logger.info("removed %s: its relation is gone", control_label(relation_id))
                except ops.ModelError as e:
                    inputs.report.add(
                        WaitingError(f"could not remove {control_label(relation_id)}: {e}")
                    )

    # -----------------------------------------------------------------------------------------
    # Relation data
    # -----------------------------------------------------------------------------------------

    def _publish(self, inputs: Inputs) -> None:
        if not self.unit.is_leader() or inputs.proxy is None:
            return
        from charmarr_interfaces.vpn_gateway.models import (
            VpnGatewayProviderData,  # pydantic: only here
        )

        vpn = self._vpn
        for relation in inputs.live:
            state = inputs.controls.get(relation.id)
            if state is None:
                continue
            proxy_id = grant_and_publish_id(
                inputs.proxy,
                relation,
                self.vpn_gateway.published_value(relation, "proxy_credentials_secret_id"),
            )
            if proxy_id is None:
                continue
            self.vpn_gateway.publish_secret_id(
                relation,
                "control_secret_id",
                state,
                lambda control_id, proxy_id=proxy_id: VpnGatewayProviderData(
                    http_proxy_url=service_url(self, HTTP_PROXY_PORT),
                    socks5_proxy_url=service_url(self, SOCKS5_PORT, scheme="socks5"),
                    control_url=service_url(self, CONTROL_PORT),
                    proxy_credentials_secret_id=proxy_id,
                    control_secret_id=control_id,
                    connected=bool(vpn and vpn.connected),
                    public_ip=vpn.public_ip if vpn and vpn.connected else None,
                ),
            )

    # -----------------------------------------------------------------------------------------
    # Rotation
    # -----------------------------------------------------------------------------------------

    def _rotate(self, label: str, current: dict[str, str]) -> dict[str, str]:
        """Apply a new credential to the workload, confirm it, and return it (not published)."""
        inputs = self._read_inputs(Report())
        problems = [*self.typed_config.problems, *inputs.report.problems]
        if not inputs.runnable:
            first = problems[0].message if problems else "Gluetun is not configured"
            raise CharmarrError(f"Gluetun must be running to rotate: {first}")
        if label == PROXY_LABEL:
            new = {
                **_new_proxy_credentials(),
                **{k: v for k, v in current.items() if k == "username"},
            }
            self._apply_and_confirm(inputs, proxy=new)
        else:
            relation_id = _relation_id_of_label(label)
            if relation_id is None:
                raise CharmarrError(f"{label} is not a secret this charm rotates")
            new = _new_control_key()
            self._apply_and_confirm(inputs, control_keys={relation_id: new["api-key"]})
        return new

    def _apply_and_confirm(
        self,
        inputs: Inputs,
        *,
        proxy: dict[str, str] | None = None,
        control_keys: dict[int, str] | None = None,
    ) -> None:
        # On failure CredentialRotation's restore (this charm's reconcile) puts the
        # published credentials back, so consumers keep working.
        applied = self._apply(inputs, proxy=proxy, control_keys=control_keys)
        self._confirm(applied, control_keys)

    def _confirm(self, applied: Applied, control_keys: dict[int, str] | None) -> None:
        """Both proxies run again and the control server takes the (new) keys."""
        services: dict[str, pebble.ServiceInfo] = {}
        for name in (GLUETUN, SOCKS5):
            try:
                services.update(self.unit.get_container(name).get_services(name))
            except _PEBBLE_ERRORS as e:
                raise _waiting(name, e) from None
        for name in (GLUETUN, SOCKS5):
            if name not in services or not services[name].is_running():
                raise WaitingError(f"{name} did not come back after the restart")
        for key in [applied.charm_key, *(control_keys or {}).values()]:
            if not control.accepts(key):
                raise WaitingError("the gluetun control server did not accept the new key")


class _KubernetesApiByAddress(KubernetesApi):
    """The Kubernetes API at the address the kubelet gives the pod, needing no DNS."""

    def __init__(self, namespace: str):
        super().__init__(namespace, base_url=api_url() or API_URL)


_PEBBLE_ERRORS = (pebble.ConnectionError, pebble.APIError, pebble.PathError, pebble.ChangeError)


def _waiting(container: str, error: Exception) -> WaitingError:
    """The status for a Pebble call that failed: the container is not ready (yet)."""
    if isinstance(error, pebble.ConnectionError):
        return WaitingError(f"waiting for the {container} container")
    return WaitingError(f"{container} container: {type(error).__name__}; will retry")


if __name__ == "__main__":  # pragma: nocover
    ops.main(GluetunCharm)
