# ruff: noqa: E501 - a table of messages, one entry per line
"""Every status a Charmarr charm can show, once, with its level and its fix.

The operator's guide ("Statuses and their fixes" in README.md) is generated from this
table (``python -m charmarr_common.statuses``), and the tests hold the charms to it:
every status text a charm builds (found in the source) and every status a charm set
during the test run must match one entry, at that entry's level. A status the guide does
not explain fails the suite.

A template is the message with ``<placeholders>`` for what varies; ``…`` also stands
for any text. Same-kind situations share an entry, so they share a level across charms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Status:
    """One status: its level, its text and what the operator does about it."""

    level: str
    """``active``, ``waiting``, ``blocked``, ``maintenance``, or ``blocked/waiting``."""
    template: str
    fix: str
    who: str = ""
    """The charms that set it, when not all (for the guide)."""

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels this status may have (two only for HTTP answers: 5xx waits)."""
        return tuple(self.level.split("/"))

    @property
    def pattern(self) -> re.Pattern[str]:
        """The template as a regular expression (placeholders match any text, even none)."""
        return _compile(self.template)


@cache
def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"<[^<>]*>|…", template)
    return re.compile("(?s)" + ".*?".join(re.escape(p) for p in parts))


B, W, A = "blocked", "waiting", "active"
HTTP = "blocked/waiting"
_SELF = "resolves by itself"
_LOG = "see the app's log (`juju ssh --container <app> <unit> /charm/bin/pebble logs`)"

CATALOGUE: tuple[Status, ...] = (
    # -- config options ------------------------------------------------------------------
    Status(
        B,
        "invalid <option> <value>: use one of <values>",
        "`juju config <app> <option>=<one of them>`",
    ),
    Status(
        B,
        "invalid require-vpn: use true or false",
        "`juju config <app> require-vpn=true` (or false)",
        "qbittorrent, sabnzbd",
    ),
    Status(
        B,
        "<option> unset: create a ReadWriteMany PVC in namespace <ns>, then juju config <app> <option>=<pvc>",
        "create the PVC, then run the command",
    ),
    Status(
        B,
        "invalid <option> <value>: the name of a PVC (lowercase letters, digits, '-' and '.')",
        "set it to a PVC name",
    ),
    Status(
        B,
        "PVC <name> not found in namespace <ns>: create it (ReadWriteMany) or juju config <app> <option>=<pvc>",
        "create the PVC or fix the name",
    ),
    Status(
        B,
        "no permission to patch the pod: juju trust <app> --scope=cluster (or deploy with --trust)",
        "as it says",
    ),
    # -- the kill switch (NetworkPolicies) ---------------------------------------------------
    Status(
        B,
        "no permission to manage NetworkPolicies: juju trust <app> --scope=cluster",
        "as it says: the kill switch needs to manage NetworkPolicies in the model's namespace",
        "qbittorrent, sabnzbd, prowlarr, gluetun",
    ),
    Status(
        B,
        "NetworkPolicy <name> in namespace <ns> is not managed by charmarr: remove it (kubectl -n <ns> delete networkpolicy <name>) so <app> can keep its kill switch",
        "an object of that name is someone else's; the charm never touches it",
        "qbittorrent, sabnzbd, prowlarr, gluetun",
    ),
    Status(
        W,
        "kill switch: the addresses of <what> are unknown; will retry",
        "the unit agent has not given the Juju controller's or the Kubernetes API's addresses "
        "yet; no policy is written until it has, so the unit never cuts itself off",
        "qbittorrent, sabnzbd, prowlarr",
    ),
    Status(W, "waiting for the Kubernetes API", _SELF + "; if it stays, check the cluster"),
    Status(W, "Kubernetes API: <error>", "a passing API error; retried on the next hook"),
    # -- user secrets ------------------------------------------------------------------------
    Status(
        B,
        "<option> unset: juju add-secret <app>-<option> <keys>; juju grant-secret <app>-<option> <app>; juju config <app> <option>=<secret-uri>",
        'create, grant and set the user secret (see "User secrets")',
        "gluetun, plex",
    ),
    Status(
        B,
        "unclaimed: get a claim token at <url> (it lasts about 4 minutes), then <the three commands>",
        "get a claim token and run the commands it names",
        "plex",
    ),
    Status(
        B,
        "<option> is not a secret URI: set it to the URI juju add-secret printed",
        "`juju config <app> <option>=secret:…`",
    ),
    Status(B, "<option> not granted: juju grant-secret <uri> <app>", "as it says"),
    Status(
        B,
        "<option> <uri> not found: juju grant-secret <uri> <app> if it exists, else juju add-secret, then juju config <app> <option>=<uri>",
        'the secret was not granted (some Juju versions answer that as "not found"), was removed, or the URI is wrong',
    ),
    Status(
        B,
        "<option> lacks <keys>: juju update-secret <uri> <key>=<value>",
        "add the missing keys, e.g. `private-key` for WireGuard, `username`/`password` for OpenVPN",
    ),
    # -- gluetun ---------------------------------------------------------------------------
    Status(
        B,
        "vpn-provider unset: juju config <app> vpn-provider=<provider> (Gluetun's VPN_SERVICE_PROVIDER, e.g. mullvad)",
        "as it says",
        "gluetun",
    ),
    Status(
        B,
        "invalid vpn-provider <value>: use Gluetun's provider name, e.g. mullvad",
        "fix the option",
        "gluetun",
    ),
    Status(B, "vpn-provider custom is not supported: …", "use your provider's name", "gluetun"),
    Status(
        B,
        "vpn-provider <p> has no WireGuard support in Gluetun: juju config <app> vpn-type=openvpn, or use one of <providers>",
        "as it says",
        "gluetun",
    ),
    Status(
        B,
        "invalid server-countries entry <value>: use comma-separated country names, e.g. Netherlands,Sweden",
        "fix the option",
        "gluetun",
    ),
    Status(
        B,
        "invalid cluster-cidrs entry <value>: use comma-separated CIDRs, e.g. 10.1.0.0/16,10.152.183.0/24",
        "fix the option",
        "gluetun",
    ),
    Status(
        B,
        "cluster-cidrs unset and not found in the Kubernetes API: juju config <app> cluster-cidrs=<pod CIDR>,<service CIDR>… (MicroK8s: 10.1.0.0/16,10.152.183.0/24)",
        'set the pod and service networks (see "Gluetun"); Gluetun does not start until then',
        "gluetun",
    ),
    Status(
        B,
        "cluster-cidrs unset and the cluster's networks miss <addresses>: juju config <app> cluster-cidrs=<value>",
        "run the command it names; Gluetun does not start until then",
        "gluetun",
    ),
    Status(
        B,
        "cluster-cidrs must cover <addresses>: juju config <app> cluster-cidrs=<value>",
        "run the command it names; the running Gluetun keeps its last good settings",
        "gluetun",
    ),
    Status(
        B,
        "credentials-secret private-key is not a WireGuard key (44 base64 characters from your provider's WireGuard config): juju update-secret <uri> private-key=<key>",
        "as it says",
        "gluetun",
    ),
    Status(
        B,
        "credentials-secret preshared-key is not a WireGuard key (44 base64 characters): juju update-secret <uri> preshared-key=<key>",
        "as it says",
        "gluetun",
    ),
    Status(
        B,
        "credentials-secret lacks preshared-key (<provider> requires it): juju update-secret <uri> preshared-key=<key>",
        "as it says",
        "gluetun",
    ),
    Status(
        B,
        "credentials-secret lacks addresses (<provider> needs the WireGuard interface address from your provider's config): juju update-secret <uri> addresses=<address/32>",
        "as it says",
        "gluetun",
    ),
    Status(
        B,
        "credentials-secret addresses holds something that is not an address/prefix: juju update-secret <uri> addresses=<address/32>",
        "as it says",
        "gluetun",
    ),
    Status(
        B,
        "credentials-secret <key> contains a newline or control character: juju update-secret <uri> <key>=<value>",
        "as it says",
        "gluetun",
    ),
    Status(
        B,
        "VPN up but no traffic passes (gluetun: <health error>): likely a wrong <keys> in credentials-secret; fix it with juju update-secret <uri>",
        "check the key and address against your provider's config",
        "gluetun",
    ),
    Status(W, "VPN <state>: waiting for the tunnel", _SELF + " once the tunnel is up", "gluetun"),
    Status(W, "VPN connecting: waiting for its health check", _SELF, "gluetun"),
    Status(W, "waiting for Gluetun", _SELF, "gluetun"),
    Status(
        A,
        "VPN connected via <provider>, public IP <ip>",
        "nothing: the tunnel carries traffic",
        "gluetun",
    ),
    Status(
        B,
        "gluetun cannot open <device> (<missing or not allowed by the container runtime>): on each node run sudo modprobe tun, …",
        'see "The TUN device"',
        "gluetun",
    ),
    Status(
        B,
        "gluetun exited (<state>): see <log command>",
        "read the log it names; usually the VPN account or provider",
        "gluetun",
    ),
    Status(
        W,
        "gluetun keeps exiting (Pebble restarts it): see <log command>",
        "read the log it names",
        "gluetun",
    ),
    Status(
        W,
        "the gluetun control server did not accept the new key",
        "retried on the next hook",
        "gluetun",
    ),
    Status(
        W,
        "<what> did not come back after the restart",
        "retried on the next hook; if it stays, read Gluetun's log",
        "gluetun",
    ),
    Status(W, "waiting for the <server> to answer", _SELF, "gluetun"),
    Status(
        W,
        "<server> answered <path> with unexpected content; waiting for Gluetun",
        "Gluetun is starting or of another version; " + _SELF,
        "gluetun",
    ),
    Status(
        W,
        "<server> answered <path> without a status",
        "Gluetun is starting or of another version; " + _SELF,
        "gluetun",
    ),
    Status(W, "<problem>; waiting for Gluetun", _SELF, "gluetun"),
    Status(W, "could not remove <path>: <error>", "retried on the next hook", "gluetun"),
    Status(W, "<container> container: <error>; will retry", "retried on the next hook", "gluetun"),
    Status(
        B,
        "Gluetun must be running to rotate: <reason>",
        "fix what the reason names, then run the action again",
        "gluetun",
    ),
    # -- the VPN gateway, seen by its clients --------------------------------------------------
    Status(
        B,
        "no VPN and require-vpn is true: juju integrate <app> gluetun, or juju config <app> require-vpn=false",
        "the download client is stopped until a VPN gateway is related",
        "qbittorrent, sabnzbd",
    ),
    Status(
        W,
        "VPN <gateway> disconnected; downloads stopped",
        "Gluetun's tunnel is down; see `juju status gluetun`",
        "qbittorrent, sabnzbd",
    ),
    Status(
        W,
        "VPN <gateway> disconnected; indexer searches wait for it",
        "Gluetun's tunnel is down; see `juju status gluetun`",
        "prowlarr",
    ),
    Status(
        W,
        "waiting for the VPN gateway on <endpoint> to publish",
        "resolves once Gluetun's leader runs",
        "qbittorrent, sabnzbd, prowlarr",
    ),
    Status(
        B,
        "proxy credentials from <app> are not URL-safe; SABnzbd cannot use them",
        "`juju run gluetun/leader rotate-credentials` makes new ones",
        "sabnzbd",
    ),
    # -- relations and consumed secrets --------------------------------------------------------
    Status(
        B,
        "invalid data from <app> on <endpoint>: <field>: <reason>",
        "the related app published data this charm cannot use (another charm or revision); upgrade it or remove the relation",
    ),
    Status(
        W, "waiting for <app> to publish on <endpoint>", "resolves once that app's leader runs"
    ),
    Status(
        W,
        "waiting for <app> to register <what>",
        "resolves once Prowlarr's leader publishes this app's entry",
        "radarr, sonarr",
    ),
    Status(
        W,
        "waiting for <app> to ask for a category",
        "resolves once Radarr's or Sonarr's leader runs",
        "qbittorrent",
    ),
    Status(W, "waiting for <app> to grant its secret", "resolves once the provider's leader runs"),
    Status(
        W,
        "secret from <app> not found; waiting for a new one",
        "the provider removed or replaced it; resolves once it publishes the new one",
    ),
    Status(
        B,
        "secret from <app> lacks <key>; upgrade that application",
        "the provider is of an incompatible revision",
    ),
    Status(
        B,
        "<app> sent a malformed secret ID; upgrade or re-integrate that application",
        "as it says",
    ),
    Status(
        W,
        "<app> rejected the key it shared; waiting for its new key",
        "the provider is rotating its key; resolves at its next secret-changed",
        "radarr, sonarr, prowlarr",
    ),
    # -- own secrets and rotation ----------------------------------------------------------------
    Status(W, "waiting for the leader to create <label>", "resolves once the leader runs"),
    Status(
        B,
        "<label> lacks <key>: juju run <app>/leader rotate-credentials",
        "as it says (the secret was edited by hand)",
    ),
    Status(
        B,
        "<id> is not a secret this charm rotates",
        "a secret-rotate for a secret the charm does not own; nothing to do",
    ),
    Status(
        B,
        "rotation failed, old credential kept: <reason>",
        "fix what the reason names; the old credential keeps working",
    ),
    Status(
        B,
        "rotation failed: <reason>; nothing published, and the published credential is re-applied to the workload at the next hook",
        "fix what the reason names; consumers keep the working credential",
    ),
    Status(
        W,
        "<app> is not ready (<reason>); rotation postponed",
        "retried at the next hook",
        "radarr, sonarr, prowlarr",
    ),
    Status(
        W,
        "cannot reach the <app> container to rotate its key",
        "retried at the next hook",
        "radarr, sonarr, prowlarr",
    ),
    Status(
        B,
        "<app> did not accept the new API key",
        "the old key is kept; run the action again, and if it stays, " + _LOG,
        "radarr, sonarr, prowlarr",
    ),
    Status(
        W,
        "qbittorrent did not answer after the restart; old password kept",
        "retried at the next rotation",
        "qbittorrent",
    ),
    Status(
        B,
        "qBittorrent.conf did not keep the new password",
        "another writer changed the file; run rotate-credentials again",
        "qbittorrent",
    ),
    Status(
        B,
        "qbittorrent refused the current password; the next hook re-applies it",
        _SELF + " at the next hook",
        "qbittorrent",
    ),
    Status(
        B,
        "qbittorrent did not accept the new password; old one kept",
        "run rotate-credentials again",
        "qbittorrent",
    ),
    Status(
        B,
        "qbittorrent still accepts the old password; rotation undone",
        "run rotate-credentials again",
        "qbittorrent",
    ),
    Status(
        B,
        "qbittorrent refused the charm's credentials; juju run qbittorrent/leader rotate-credentials re-applies them",
        "as it says",
        "qbittorrent",
    ),
    Status(
        W,
        "qbittorrent banned the charm after failed logins; it lifts by itself (WebUI ban duration, default one hour)",
        _SELF,
        "qbittorrent",
    ),
    Status(
        W,
        "sabnzbd did not come back with its new key; old key kept",
        "retried at the next rotation",
        "sabnzbd",
    ),
    Status(
        W, "sabnzbd container unreachable; old key kept", "retried at the next rotation", "sabnzbd"
    ),
    Status(
        W,
        "sabnzbd did not restart with its new key; old key kept",
        "retried at the next rotation",
        "sabnzbd",
    ),
    Status(
        W,
        "sabnzbd.ini could not be written; old key kept",
        "retried at the next rotation",
        "sabnzbd",
    ),
    Status(
        B,
        "sabnzbd still accepts the old API key; not published",
        "run rotate-credentials again",
        "sabnzbd",
    ),
    Status(
        B,
        "sabnzbd refused its new API key; old key kept",
        "run rotate-credentials again",
        "sabnzbd",
    ),
    Status(
        B,
        "sabnzbd refused the API key",
        "the charm restarts SABnzbd with its key; if it stays, " + _LOG,
        "sabnzbd",
    ),
    Status(W, "restarting sabnzbd to load its API key", _SELF, "sabnzbd"),
    # -- the workload itself ----------------------------------------------------------------
    Status(W, "waiting for <app> to answer (<error>)", "the workload is starting; " + _SELF),
    Status(
        W,
        "waiting for <app> to start",
        "the workload is starting; " + _SELF,
        "qbittorrent, sabnzbd",
    ),
    Status(W, "waiting for the <container> container", "the container is starting; " + _SELF),
    Status(
        W,
        "waiting to take ownership of <dir>",
        "`chown` in the workload container failed before the first start; retried every hook. "
        "Persisting means the image lacks `chown` or the volume refuses it",
        "qbittorrent, sabnzbd, radarr, sonarr, prowlarr, plex",
    ),
    Status(
        B,
        "<app> runs on one unit only; this one stands by, stopped: juju scale-application <app> 1",
        "the unit is not the leader: its workload is stopped and gets no traffic (see "
        '"Scaling"); scale back with the command',
    ),
    Status(
        W,
        "waiting for the <container> container (<error>)",
        "the container is starting; " + _SELF,
        "radarr, sonarr, prowlarr",
    ),
    Status(W, "waiting for Pebble in <container>", "the container is starting; " + _SELF),
    Status(
        W,
        "waiting for Pebble in the plex container",
        "the container is starting; " + _SELF,
        "plex",
    ),
    Status(
        W,
        "Pebble error in the plex container (<error>); retrying",
        "retried on the next hook",
        "plex",
    ),
    Status(
        W,
        "the qbittorrent container did not answer Pebble",
        "retried on the next hook",
        "qbittorrent",
    ),
    Status(
        W, "Pebble refused a request; retrying later", "retried on the next hook", "qbittorrent"
    ),
    Status(
        B,
        "sabnzbd did not start: see juju ssh --container <container> <unit> pebble logs <service>",
        "read the log it names",
        "sabnzbd",
    ),
    Status(
        HTTP,
        "<app> answered <METHOD> <path> with HTTP <code>",
        "HTTP 5xx is Waiting (the app is failing or starting, retried); any other code is Blocked: the app refuses the charm's request, "
        + _LOG,
    ),
    Status(
        B,
        "<app> answered <request> with non-JSON",
        "another program answers on the app's port, or the app is starting; " + _LOG,
    ),
    Status(
        HTTP,
        "<app> answered <request> unexpectedly",
        "the app is of a version the charm does not know, or starting; " + _LOG,
    ),
    Status(HTTP, "<app> answered <request> with something not a list", "as above"),
    Status(HTTP, "<app> answered <request> with something unexpected", "as above", "qbittorrent"),
    Status(HTTP, "<app> answered <request> with no <what>", "as above", "qbittorrent"),
    Status(HTTP, "<app> answered <request> without <what>", "as above", "sabnzbd"),
    Status(HTTP, "<app> answered <request> with <what>", "as above", "sabnzbd"),
    Status(
        HTTP,
        "sabnzbd refused the Host header (host_whitelist)",
        "the charm sets host_whitelist; if it stays, check sabnzbd.ini",
        "sabnzbd",
    ),
    Status(
        HTTP, "sabnzbd refused mode=<mode>: <error>", "SABnzbd's own reason; " + _LOG, "sabnzbd"
    ),
    Status(
        HTTP,
        "sabnzbd denied mode=<mode> (HTTP 403)",
        "SABnzbd refuses the API from the charm's address; check `local_ranges` and `inet_exposure` in sabnzbd.ini",
        "sabnzbd",
    ),
    Status(
        HTTP,
        "sabnzbd has no setting <name>",
        "SABnzbd of another version; use the image the charm pins",
        "sabnzbd",
    ),
    Status(
        B,
        "cannot reach <app>: its URL is unusable (<reason>)",
        "the URL came from a related app; see `invalid data from …` and upgrade that app",
    ),
    Status(
        B,
        "refusing to write <what> to <file>: <reason>",
        "a value holds a newline, control character (or, in 3proxy.cfg, a space): fix the secret it came from (`juju update-secret`), or `juju run <app>/leader rotate-credentials` for a generated one",
    ),
    # -- the *arr apps --------------------------------------------------------------------------
    Status(
        B,
        "/config/config.xml is not valid XML (line <n>): fix or move it away",
        "as it says; the charm will not overwrite it",
        "radarr, sonarr, prowlarr",
    ),
    Status(
        B,
        "/config/config.xml has no <Config> root: fix or move it away",
        "as it says; the charm will not overwrite it",
        "radarr, sonarr, prowlarr",
    ),
    Status(
        B,
        "<app> rejects the API key in /config/config.xml; check that no <APP>__AUTH__APIKEY is set, then restart the unit",
        "an environment override of the key; remove it and restart",
        "radarr, sonarr, prowlarr",
    ),
    Status(
        B,
        "<app> refused <what> <entry>: <the app's reasons>; <what to do>",
        "e.g. `<app> refused the Plex connection plex (juju): At least one Movie library is required; create a Movie library in Plex` (Radarr; Sonarr: TV): do what it says; the entry is added at the next `update-status`",
        "radarr, sonarr, prowlarr",
    ),
    Status(
        W,
        "<app> refused <what> <entry>: <the app's reasons>; retrying",
        "e.g. `Unable to connect to qBittorrent`, `Category does not exist`: the other app is starting, stopped (no VPN) or has not made the category yet; retried on every hook",
        "radarr, sonarr, prowlarr",
    ),
    Status(
        B,
        "<app> refused <what>: <reason>",
        "the app's own reason; " + _LOG,
        "radarr, sonarr, prowlarr",
    ),
    Status(
        W,
        "waiting for <app> to answer, to sync Prowlarr's indexers into it",
        "Radarr/Sonarr did not answer when Prowlarr's key changed; Prowlarr forces the sync again once it does",
        "prowlarr",
    ),
    Status(
        W,
        "<n> <app> indexer<s> in <app> hold an old <app> key; waiting for <app> to sync its current key",
        "Prowlarr's forced sync has not reached this app yet; if it stays, force it in Prowlarr's UI (Settings, Apps, Sync App Indexers)",
        "radarr, sonarr",
    ),
    Status(
        B,
        "<app> refused root folder <path>: <reason>; is the media volume mounted at /data?",
        "check `media-volume` and the PVC's permissions",
        "radarr, sonarr",
    ),
    Status(
        B,
        "<app> refused root folder <path> (HTTP <code>); is the media volume mounted at /data?",
        "check `media-volume` and the PVC's permissions",
        "radarr, sonarr",
    ),
    Status(A, "ready", "nothing", "radarr, sonarr, prowlarr"),
    Status(
        A,
        "<n> download client<s>",
        "nothing: how many download clients are connected",
        "radarr, sonarr",
    ),
    Status(
        A, "<n> media server<s>", "nothing: how many media servers are connected", "radarr, sonarr"
    ),
    Status(
        A,
        "registered with <app>",
        "nothing: Prowlarr lists this app and syncs indexers into it",
        "radarr, sonarr",
    ),
    Status(
        A, "syncing to <apps>", "nothing: the apps Prowlarr syncs its indexers into", "prowlarr"
    ),
    # -- the download clients ---------------------------------------------------------------------
    Status(
        B,
        "category <names> exists in <App> with another folder and is left as the user's: delete or rename it in <App>",
        "a category of that name that you created; the charm leaves it alone, and Radarr/Sonarr's downloads would land outside /data/downloads",
        "qbittorrent, sabnzbd",
    ),
    Status(
        A,
        "categories: <names>",
        "nothing: the categories made for Radarr and Sonarr",
        "qbittorrent, sabnzbd",
    ),
    Status(
        A,
        "via VPN <ip>, kill switch on",
        "nothing: downloads (or searches) go through Gluetun, and the app's NetworkPolicy "
        'drops any other traffic (see "The kill switch")',
        "qbittorrent, sabnzbd, prowlarr",
    ),
    Status(
        A,
        "VPN disconnected, kill switch on",
        "downloads wait for the tunnel: while Gluetun is related, the NetworkPolicy lets "
        "traffic out only through it (whatever require-vpn says)",
        "qbittorrent, sabnzbd",
    ),
    Status(
        A,
        "via VPN <ip>",
        "nothing: downloads (or searches) go through Gluetun",
        "qbittorrent, sabnzbd, prowlarr",
    ),
    Status(
        A,
        "VPN disconnected",
        "require-vpn=false: downloads continue without the tunnel",
        "qbittorrent, sabnzbd",
    ),
    Status(
        A,
        "no VPN (require-vpn=false)",
        "nothing: no VPN gateway is related and none is required",
        "qbittorrent, sabnzbd",
    ),
    # -- plex ---------------------------------------------------------------------------------
    Status(
        B,
        "claim failed: <reason>; claim tokens last about 4 minutes: get a fresh one at <url> and run juju update-secret <uri> claim-token=<token>",
        "as it says",
        "plex",
    ),
    Status(
        B,
        "plex.tv rejected the claim token (HTTP <code>)",
        "the token expired or was used; see `claim failed`",
        "plex",
    ),
    Status(
        B,
        "plex.tv answered the claim without a server token",
        "plex.tv changed its answer; try a fresh token",
        "plex",
    ),
    Status(
        W,
        "plex.tv unreachable for the claim; retrying on the next update-status",
        "the cluster needs internet access to plex.tv; retried every update-status",
        "plex",
    ),
    Status(
        W,
        "plex.tv answered the claim with HTTP <code>; retrying on the next update-status",
        "plex.tv is failing; retried every update-status",
        "plex",
    ),
    Status(W, "claimed with plex.tv; waiting for plex to restart and confirm", _SELF, "plex"),
    Status(W, "plex says it is claimed; waiting for it to save PlexOnlineToken", _SELF, "plex"),
    Status(
        B,
        "plex answered <path> with something that is not Plex's identity; is another program listening on port 32400?",
        "as it asks",
        "plex",
    ),
    Status(
        B,
        "Preferences.xml is not valid XML: restore it from a backup or remove it",
        "as it says",
        "plex",
    ),
    Status(
        B,
        "Preferences.xml has root <<tag>>, not <Preferences>",
        "restore Preferences.xml from a backup or remove it",
        "plex",
    ),
    Status(
        A,
        "claimed; <option> is no longer needed and may be removed",
        "nothing; the claim-token secret may be removed",
        "plex",
    ),
    Status(A, "", "nothing (Plex, once claimed and serving)", "plex"),
    # -- ingress and Plex remote access (issue #19) -------------------------------------
    Status(
        A,
        "web UI at <url>",
        "nothing: the external URL the ingress (traefik-k8s) published; `juju run <app>/leader get-url` gives it to scripts",
        "prowlarr, radarr, sonarr, qbittorrent, sabnzbd",
    ),
    Status(
        A,
        "remote clients connect at <urls>",
        "nothing: the URLs Plex advertises to its clients (advertise-urls and the LoadBalancer's address)",
        "plex",
    ),
    Status(
        B,
        "invalid advertise-urls <url>: <reason>; use comma-separated http(s) URLs such as http://plex.example.com:<port>",
        "`juju config <app> advertise-urls=http://<host>:<port>`",
        "plex",
    ),
    Status(
        B,
        "remote-access nodeport: set advertise-urls=http://<node address>:<port> (Service <name>'s node port, reachable by your clients)",
        "forward a port to the node port (or use a node's address), then `juju config <app> advertise-urls=http://<host>:<port>`",
        "plex",
    ),
    Status(
        W,
        "waiting for the cloud to give Service <name> an address",
        "the cluster's load-balancer controller has not assigned one yet (MetalLB, a cloud LB); if it stays, check it or use remote-access=nodeport",
        "plex",
    ),
    Status(
        B,
        "no permission to manage Service <name>: juju trust <app> --scope=cluster",
        "as it says",
        "plex",
    ),
    Status(
        B,
        "Service <name> in namespace <ns> is not managed by charmarr: remove it (kubectl -n <ns> delete service <name>) so <app> can manage its remote-access",
        "an object of that name is someone else's; the charm never touches it",
        "plex",
    ),
)
"""Order matters only for the guide; a message may match several entries of one level."""


def explain(level: str, message: str) -> Status | None:
    """The catalogue entry that explains a status shown at ``level``, or None.

    An Active message may be several notes joined by ``; `` (each must be explained).
    """
    for entry in CATALOGUE:
        if level in entry.levels and entry.pattern.fullmatch(message):
            return entry
    if level == A and "; " in message:
        if all(explain(A, part) for part in message.split("; ")):
            return next(e for e in CATALOGUE if e.template == "ready")
    return None


def explains_text(sample: str) -> Status | None:
    """The entry whose template a status built in the source can produce.

    ``sample`` is the source's f-string with each ``{…}`` replaced by a NUL: each
    stands for any text: the sample fits a template when one's wildcards cover the
    other's text.
    """
    regex = re.compile("(?s)" + ".+?".join(re.escape(p) for p in sample.split("\x00")))
    for entry in CATALOGUE:
        # Either side's wildcards may cover the other's literal text.
        if regex.fullmatch(entry.template) or entry.pattern.fullmatch(sample):
            return entry
    if ";" in sample and all(explains_text(p) for p in sample.split("; ") if p):
        return explains_text("ready")
    return None


def guide_table() -> str:
    """The guide's "Statuses and their fixes" table, in Markdown."""
    rows = ["| status | level | meaning and fix |", "|---|---|---|"]
    for entry in CATALOGUE:
        text = entry.template.replace("|", "\\|") or "(no message)"
        who = f" ({entry.who})" if entry.who else ""
        level = entry.level.replace("/", " or ").capitalize()
        rows.append(f"| `{text}`{who} | {level} | {entry.fix.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates the guide's table
    print(guide_table(), end="")
